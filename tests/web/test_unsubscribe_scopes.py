"""The unsubscribe page offers the registered scopes by their labels, in the reader's language, so
that a person can leave one kind of mail or all of it."""

from __future__ import annotations

from tests.web.test_unsubscribe import allowed, token_for


async def register(client, auth):
    for scope, labels in (("newsletter", {"nl": "Nieuwsbrief", "en": "Newsletter", "fr": "Lettre d'information"}),
                          ("events", {"nl": "Uitnodigingen voor evenementen", "en": "Event invitations"})):
        response = await client.put(f"/v1/scopes/{scope}", headers=auth, json={"labels": labels, "consent": "none"})
        assert response.status == 201


async def test_the_page_lists_the_registered_scopes_by_their_labels(client, auth):
    await register(client, auth)
    token = token_for()
    dutch = await (await client.get(f"/u/{token}")).text()
    assert "Alleen voor Nieuwsbrief" in dutch and "Alleen voor Uitnodigingen voor evenementen" in dutch
    assert 'value="scope:events"' in dutch and 'value="scope:newsletter"' not in dutch
    english = await (await client.get(f"/u/{token}?lang=en")).text()
    assert "Only Newsletter" in english and "Only Event invitations" in english
    french = await (await client.get(f"/u/{token}?lang=fr")).text()
    assert "Lettre d&#39;information" in french and "Uitnodigingen voor evenementen" in french  # no French label: Dutch


async def test_a_person_leaves_another_registered_kind_of_mail_and_undoes_it(client, auth):
    await register(client, auth)
    token = token_for()
    done = await client.post(f"/u/{token}", data={"confirm": "yes", "choice": "scope:events"})
    assert done.status == 200 and "Uitnodigingen voor evenementen" in await done.text()
    assert not await allowed(client, auth, scope="events")
    assert await allowed(client, auth, scope="newsletter")
    undone = await client.post(f"/u/{token}/resubscribe", data={"scope": "events"})
    assert undone.status == 200
    assert await allowed(client, auth, scope="events")


async def test_a_scope_that_is_not_registered_cannot_be_chosen(client, auth, pool):
    await register(client, auth)
    response = await client.post(f"/u/{token_for()}", data={"confirm": "yes", "choice": "scope:shop"})
    assert response.status == 400 and response.content_type == "text/html"
    assert await pool.fetchval("SELECT count(*) FROM suppressions") == 0
    bad = await client.post(f"/u/{token_for()}", data={"confirm": "yes", "choice": "scope:NOT VALID"})
    assert bad.status == 400
    assert await pool.fetchval("SELECT count(*) FROM suppressions") == 0
