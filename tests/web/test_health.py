"""Health, readiness, metrics and the OpenAPI document."""


async def test_healthz_and_readyz(client):
    assert (await client.get("/healthz")).status == 200
    response = await client.get("/readyz")
    assert response.status == 200 and (await response.json())["database"] == "ok"


async def test_metrics_count_requests_by_route_and_checks(client, auth):
    await client.post("/v1/check", json={"recipients": ["a@example.be", "bad"]}, headers=auth)
    text = await (await client.get("/metrics")).text()
    assert 'optout_http_requests_total{method="POST",route="/v1/check",status="200"} 1.0' in text
    assert 'optout_checks_total{outcome="blocked"} 1.0' in text
    assert 'optout_checks_total{outcome="allowed"} 1.0' in text
    assert "optout_http_request_seconds_bucket" in text


async def test_metrics_never_show_an_address_or_path_value(client, auth):
    await client.get("/v1/suppressions/secret.person@example.be", headers=auth)
    text = await (await client.get("/metrics")).text()
    assert "secret.person" not in text and 'route="/v1/suppressions/{email}"' in text


async def test_openapi_describes_every_route(client):
    document = await (await client.get("/openapi.json")).json()
    assert document["openapi"].startswith("3.")
    described = {(path, method.upper()) for path, item in document["paths"].items() for method in item if method != "parameters"}
    for resource in client.app.router.resources():
        info = resource.get_info()
        path = info.get("path") or info.get("formatter")
        if path is None or path.startswith("/staff/"):  # static files and the console's pages are not API
            continue
        for route in resource:
            if route.method == "HEAD":
                continue
            if "{format}" in path:
                assert (path.replace("{format}", "csv"), route.method) in described
            else:
                assert (path, route.method) in described, (path, route.method)


async def test_metrics_show_what_waits_for_staff_and_for_the_worker(client, pool):
    import re
    import uuid
    from datetime import date, timedelta

    for status, age in (("queued", "2 hours"), ("queued", "5 minutes"), ("held", "1 day"), ("failed", "1 day")):
        await pool.execute(
            """INSERT INTO inbound_messages (via, raw, size, dedup_key, status, received_at)
               VALUES ('http', 'x', 1, $1, $2, now() - $3::text::interval)""", str(uuid.uuid4()), status, age)
    today = date.today()
    for kind, due, status in (("access", today + timedelta(days=3), "open"), ("erasure", today - timedelta(days=2), "open"),
                              ("correction", today + timedelta(days=20), "open"), ("access", today, "closed")):
        await pool.execute("""INSERT INTO privacy_requests (kind, address, received_at, due, status)
                              VALUES ($1, 'a@example.be', now(), $2, $3)""", kind, due, status)
    text = await (await client.get("/metrics")).text()
    assert 'optout_inbound_messages{status="queued"} 2.0' in text
    assert 'optout_inbound_messages{status="held"} 1.0' in text and 'optout_inbound_messages{status="failed"} 1.0' in text
    oldest = float(re.search(r"^optout_inbound_oldest_queued_seconds (\S+)$", text, re.M).group(1))
    assert 7190 < oldest < 7400
    assert 'optout_privacy_requests{state="open"} 3.0' in text
    assert 'optout_privacy_requests{state="due_within_7_days"} 1.0' in text
    assert 'optout_privacy_requests{state="overdue"} 1.0' in text
