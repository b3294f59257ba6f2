"""Streamed import and export of the list (CSV and NDJSON)."""

import csv
import io
import json


async def import_body(client, auth, body: bytes, content_type: str = "text/csv"):
    response = await client.post(
        "/v1/suppressions/import", data=io.BytesIO(body), headers={**auth, "Content-Type": content_type}
    )
    return response.status, await response.json()


async def test_csv_import_reports_bad_lines_by_number_and_imports_the_rest(client, auth):
    body = (
        "email,scope,reason,source,note\n"
        "a@example.be\n"
        "B@Example.be,events,unsubscribe,link,\"said so, on the phone\"\n"
        "not-an-address\n"
        "\n"
        "c@example.be,Bad Scope\n"
        "d@example.be,global,bounce,dsn\n"
        "e@example.be,events,complaint\n"
        "a@example.be\n"
        "f@example.be,global,spite\n"
    ).encode()
    status, summary = await import_body(client, auth, body)
    assert status == 200
    assert summary["imported"] == 3 and summary["already"] == 1
    assert [(i["line"], i["value"]) for i in summary["invalid"]] == [
        (4, "not-an-address"), (6, "c@example.be"), (8, "e@example.be"), (10, "f@example.be")]
    assert all(i["error"] for i in summary["invalid"])
    shown = await (await client.get("/v1/suppressions/b@example.be", headers=auth)).json()
    assert shown["suppressions"][0] == {**shown["suppressions"][0], "scope": "events", "reason": "unsubscribe",
                                        "source": "link", "note": "said so, on the phone"}
    defaults = await (await client.get("/v1/suppressions/a@example.be", headers=auth)).json()
    assert [(s["scope"], s["reason"], s["source"]) for s in defaults["suppressions"]] == [("global", "manual", "import")]


async def test_ndjson_import_and_quoted_multiline_csv_notes(client, auth):
    lines = [
        json.dumps({"email": "n1@example.be", "scope": "newsletter", "reason": "unsubscribe", "source": "reply"}),
        "{broken",
        json.dumps({"email": "n2@example.be"}),
        json.dumps(["not", "an", "object"]),
    ]
    status, summary = await import_body(client, auth, "\n".join(lines).encode(), "application/x-ndjson")
    assert status == 200 and summary["imported"] == 2
    assert [i["line"] for i in summary["invalid"]] == [2, 4]
    status, summary = await import_body(client, auth, b'm@example.be,global,manual,phone,"first line\nsecond line"\nbad\n')
    assert summary["imported"] == 1 and summary["invalid"][0]["line"] == 3
    shown = await (await client.get("/v1/suppressions/m@example.be", headers=auth)).json()
    assert shown["suppressions"][0]["note"] == "first line\nsecond line"


async def test_non_utf8_csv_is_a_400_that_names_the_line_and_imports_nothing(client, auth):
    body = "ok@example.be\nzoë@example.be\n".encode("latin-1")
    status, answer = await import_body(client, auth, body)
    assert status == 400
    assert "Line 2" in answer["error"]["message"] and "UTF-8" in answer["error"]["message"]
    assert (await client.get("/v1/suppressions/ok@example.be", headers=auth)).status == 404


async def test_unknown_content_type_is_415(client, auth):
    status, answer = await import_body(client, auth, b"a@example.be", "image/png")
    assert status == 415 and answer["error"]["code"]


async def test_export_returns_what_was_imported_in_both_formats(client, auth):
    rows = [f"user{i}@example.be,{'events' if i % 3 else 'global'},manual,import,note {i}" for i in range(2500)]
    status, summary = await import_body(client, auth, ("\n".join(rows) + "\n").encode())
    assert summary["imported"] == 2500

    response = await client.get("/v1/suppressions.csv", headers=auth)
    assert response.status == 200 and response.content_type == "text/csv"
    exported = list(csv.DictReader(io.StringIO(await response.text())))
    assert {(r["email"], r["scope"], r["note"]) for r in exported} == {
        (f"user{i}@example.be", "events" if i % 3 else "global", f"note {i}") for i in range(2500)}

    response = await client.get("/v1/suppressions.ndjson", headers=auth)
    items = [json.loads(line) for line in (await response.text()).splitlines()]
    assert len(items) == 2500 and {"email", "scope", "reason", "source", "note", "created_at"} <= set(items[0])


async def test_an_export_imports_back_unchanged(client, auth):
    await client.put("/v1/suppressions/r@example.be", json={"scope": "events", "note": "a, \"quoted\"\nnote"}, headers=auth)
    exported = await (await client.get("/v1/suppressions.csv", headers=auth)).read()
    await client.delete("/v1/suppressions/r@example.be", params={"scope": "events"}, json={"evidence": "test"}, headers=auth)
    status, summary = await import_body(client, auth, exported)
    assert (status, summary["imported"], summary["invalid"]) == (200, 1, [])
    again = await (await client.get("/v1/suppressions.csv", headers=auth)).read()
    assert again == exported


async def test_a_bad_line_after_several_batches_rolls_back_the_whole_import(client, auth):
    good = "".join(f"batch{i}@example.be\n" for i in range(12_000)).encode()
    status, answer = await import_body(client, auth, good + "zoë@example.be\n".encode("latin-1"))
    assert status == 400 and "Line 12001" in answer["error"]["message"]
    assert (await client.get("/v1/suppressions/batch1@example.be", headers=auth)).status == 404
    status, summary = await import_body(client, auth, good)
    assert status == 200 and summary["imported"] == 12_000


async def test_bad_dates_and_nul_characters_are_invalid_lines_not_errors(client, auth):
    lines = [json.dumps({"email": "d1@example.be", "created_at": "9999-12-31T23:59:59-14:00"}),
             json.dumps({"email": "d2@example.be", "note": "a\u0000b"}),
             json.dumps({"email": "d3@example.be", "created_at": "2026-01-01T00:00:00+00:00"})]
    status, summary = await import_body(client, auth, "\n".join(lines).encode(), "application/x-ndjson")
    assert status == 200 and summary["imported"] == 1
    assert [i["line"] for i in summary["invalid"]] == [1, 2]


async def test_an_unclosed_quote_is_reported_and_the_rest_of_the_file_imported(client, auth):
    body = '"never closed@example.be\n' + "".join(f"q{i}@example.be\n" for i in range(5000))
    status, summary = await import_body(client, auth, body.encode())
    assert status == 200
    assert summary["invalid"][0]["line"] == 1 and "quote" in summary["invalid"][0]["error"]
    assert summary["imported"] >= 4000


async def test_an_erased_address_is_not_imported_back_in_clear(client, auth, pool):
    await client.post("/v1/erasure", json={"email": "gone@example.be"}, headers=auth)
    status, summary = await import_body(client, auth, b"gone@example.be\nkept@example.be\n")
    assert (summary["imported"], summary["already"]) == (1, 1)
    assert await pool.fetchval("SELECT count(*) FROM suppressions WHERE address = 'gone@example.be'") == 0
