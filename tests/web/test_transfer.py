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


async def gzip_import(client, auth, body: bytes, content_type: str = "text/csv"):
    import gzip

    response = await client.post(
        "/v1/suppressions/import", data=io.BytesIO(gzip.compress(body, 9)),
        headers={**auth, "Content-Type": content_type, "Content-Encoding": "gzip"},
    )
    return response.status, await response.json()


async def test_a_gzip_import_is_inflated_and_imported(client, auth):
    status, summary = await gzip_import(client, auth, b"".join(b"z%d@example.be\n" % i for i in range(3000)))
    assert (status, summary["imported"]) == (200, 3000)


async def test_an_import_that_inflates_past_the_limit_is_a_413_and_imports_nothing(client, auth, monkeypatch):
    from service.domain.suppressions import transfer

    monkeypatch.setattr(transfer, "MAX_IMPORT_BYTES", 1 << 20)
    body = b"".join(b"big%d@example.be\n" % i for i in range(100_000))
    status, answer = await gzip_import(client, auth, body)
    assert status == 413
    assert answer["error"]["code"] == "body_too_large" and "1048576 bytes" in answer["error"]["message"]
    assert (await client.get("/v1/suppressions/big1@example.be", headers=auth)).status == 404
    status, answer = await import_body(client, auth, body)
    assert status == 413


async def test_a_huge_line_is_reported_without_being_kept(client, auth):
    body = b"first@example.be\n" + b"x" * (8 << 20) + b"\nlast@example.be\n"
    status, summary = await gzip_import(client, auth, body)
    assert status == 200 and summary["imported"] == 2
    [bad] = summary["invalid"]
    assert bad["line"] == 2 and "long" in bad["error"] and len(bad["value"]) <= 500


async def test_an_import_of_long_lines_is_read_off_the_event_loop(client, auth, monkeypatch):
    """A compressed upload of megabytes without a line break once froze /healthz for seconds:
    its lines must be taken apart in a worker thread, never on the thread of the event loop."""
    import threading

    from service.domain.suppressions import transfer

    monkeypatch.setattr(transfer, "MAX_INFLATION", 1 << 20)  # this one inflates 1000-fold
    on_the_loop = []
    real = transfer.Importer._take_chunk

    def watched(self, chunk):
        on_the_loop.append(threading.current_thread() is threading.main_thread())
        return real(self, chunk)

    monkeypatch.setattr(transfer.Importer, "_take_chunk", watched)
    body = b'{"email": "' + b"a" * (24 << 20) + b'"}\n'
    status, summary = await gzip_import(client, auth, body, "application/x-ndjson")
    assert status == 200 and len(summary["invalid"]) == 1
    assert on_the_loop and not any(on_the_loop), "the import was read on the event loop"


async def test_a_body_that_is_not_the_compression_it_claims_is_a_400(client, auth):
    for encoding, body in (("gzip", b"a@example.be\n" * 100), ("deflate", b"\x78\x9c garbage"),
                           ("gzip", b"\x1f\x8b\x08\x00" + b"\xff" * 64), ("br", b"x")):
        response = await client.post("/v1/suppressions/import", data=body, headers={
            **auth, "Content-Type": "text/csv", "Content-Encoding": encoding, "Connection": "close"})
        assert 400 <= response.status < 500, encoding
    assert (await client.get("/v1/suppressions/a@example.be", headers=auth)).status == 404


async def test_an_upload_that_inflates_a_hundredfold_is_a_413(client, auth, monkeypatch):
    from service.domain.suppressions import transfer

    monkeypatch.setattr(transfer, "FREELY_INFLATED", 1 << 20)
    status, answer = await gzip_import(client, auth, b"a\n" * (4 << 20))  # 8 MiB from a few kB
    assert status == 413 and "100 times" in answer["error"]["message"]


async def test_an_empty_import_imports_nothing(client, auth):
    for content_type in ("text/csv", "application/x-ndjson"):
        status, summary = await import_body(client, auth, b"", content_type)
        assert (status, summary) == (200, {"imported": 0, "already": 0, "invalid": []})


async def test_a_semicolon_list_with_a_bom_and_a_dutch_header_in_any_order_imports(client, auth):
    body = ("\ufeffOpmerking;Lijst;E-mailadres\r\n"
            "belde op 2/12;events;piet@example.be\r\n"
            "\"zei: stop; geen mails\";;marie@example.be\r\n"
            "geen adres;events;\r\n").encode("utf-8")
    status, summary = await import_body(client, auth, body)
    assert status == 200 and (summary["imported"], summary["already"]) == (2, 0)
    assert [i["line"] for i in summary["invalid"]] == [4]
    piet = await (await client.get("/v1/suppressions/piet@example.be", headers=auth)).json()
    assert [(s["scope"], s["note"]) for s in piet["suppressions"]] == [("events", "belde op 2/12")]
    marie = await (await client.get("/v1/suppressions/marie@example.be", headers=auth)).json()
    assert [(s["scope"], s["note"]) for s in marie["suppressions"]] == [("global", "zei: stop; geen mails")]


async def test_a_tab_separated_list_and_a_french_header_import(client, auth):
    body = "Courriel\tRemarque\njean@example.be\tappel du 2/12\n".encode()
    status, summary = await import_body(client, auth, body)
    assert status == 200 and summary["imported"] == 1 and summary["invalid"] == []
