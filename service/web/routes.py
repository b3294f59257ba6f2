"""Every route of the web app, in one table."""

from __future__ import annotations

from aiohttp import web

from ..logs import redact_secrets_in_logs
from . import (check, feed, health, inbound, links, openapi, staff, staff_messages, staff_outbox, subjects, suppressions,
               transfer, unsubscribe, webhooks)


def setup_routes(app: web.Application) -> None:
    # aiohttp logs a request it cannot parse with the raw bytes (a /u/<token> path, an
    # Authorization header): however the app is served, those lines are redacted first.
    redact_secrets_in_logs()
    app.router.add_routes(
        [
            web.get("/healthz", health.healthz),
            web.get("/readyz", health.readyz),
            web.get("/metrics", health.metrics),
            web.get("/openapi.json", openapi.document),
            web.post("/v1/check", check.check_many),
            web.get("/v1/check", check.check_one),
            web.get("/v1/suppressions", suppressions.listing),
            web.get(r"/v1/suppressions.{format:csv|ndjson}", transfer.export),
            web.post("/v1/suppressions/import", transfer.import_list),
            web.get("/v1/suppressions/{email}", suppressions.show),
            web.put("/v1/suppressions/{email}", suppressions.put),
            web.delete("/v1/suppressions/{email}", suppressions.delete),
            web.get("/v1/events", suppressions.events),
            web.get("/v1/events/feed", feed.events),
            web.post("/v1/webhooks", webhooks.create),
            web.get("/v1/webhooks", webhooks.listing),
            web.delete("/v1/webhooks/{id}", webhooks.delete),
            web.post("/v1/links", links.create_links),
            web.get("/v1/subjects/{email}", subjects.access),
            web.post("/v1/erasure", subjects.erase),
            web.post("/v1/inbound", inbound.post_message),
            web.get("/v1/inbound/{id}", inbound.show_message),
            web.get("/u/{token}", unsubscribe.show),
            web.post("/u/{token}", unsubscribe.confirm),
            web.post("/u/{token}/resubscribe", unsubscribe.resubscribe),
            web.get("/staff/", staff.dashboard),
            web.get("/staff/login", staff.login_form),
            web.post("/staff/login", staff.login),
            web.post("/staff/logout", staff.logout),
            web.get("/staff/address", staff.address),
            web.post("/staff/suppress", staff.suppress),
            web.post("/staff/lift", staff.lift),
            web.get("/staff/messages", staff_messages.held),
            web.get("/staff/messages/{id}", staff_messages.read),
            web.post("/staff/messages/{id}/release", staff_messages.release),
            web.get("/staff/outbox", staff_outbox.dead),
            web.post("/staff/outbox/{id}/retry", staff_outbox.retry),
            web.post("/staff/outbox/{id}/discard", staff_outbox.discard),
        ]
    )
