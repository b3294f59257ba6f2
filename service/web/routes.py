"""Every route of the web app, in one table: the API at the root, the recipient's pages (/u) and
the staff console (/staff) as sub-apps, each answering its failures as its own kind of page."""

from __future__ import annotations

from aiohttp import web

from ..logs import redact_secrets_in_logs
from . import (campaigns, check, confirm, consents, feed, health, inbound, links, me, me_page, openapi, staff,
               subjects, suppressions, transfer, unsubscribe, webhooks)
from .middlewares import answering


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
            web.get("/v1/campaigns", campaigns.listing),
            web.post(r"/v1/campaigns/{campaign:.+}/resume", campaigns.resume),
            web.get(r"/v1/campaigns/{campaign:.+}", campaigns.show),
            web.get("/v1/subjects/{email}", subjects.access),
            web.post("/v1/erasure", subjects.erase),
            web.post("/v1/inbound", inbound.post_message),
            web.get("/v1/inbound", inbound.list_messages),
            web.get("/v1/inbound/{id}", inbound.show_message),
            web.get("/v1/scopes", consents.list_scopes),
            web.put("/v1/scopes/{scope}", consents.put_scope),
            web.post("/v1/consents", consents.give),
            web.get("/v1/consents/{email}", consents.show),
            web.get("/v1/requests", consents.list_requests),
            web.post("/v1/requests/{id}/close", consents.close_request),
        ]
    )
    app.add_subapp("/u", unsubscribe_app())
    app.add_subapp("/c", confirm_app())
    app.add_subapp("/me", me_app())
    app.add_subapp("/staff", staff_app())


def unsubscribe_app() -> web.Application:
    """/u/{token}: the recipient's pages; a failure is a page in the reader's language.
    Its handlers read the parent's keys through request.config_dict."""
    app = web.Application(middlewares=[answering(unsubscribe.error_page)])
    app.router.add_routes(
        [
            web.get("/{token}", unsubscribe.show),
            web.post("/{token}", unsubscribe.confirm),
            web.post("/{token}/resubscribe", unsubscribe.resubscribe),
        ]
    )
    return app


def confirm_app() -> web.Application:
    """/c/{token}: the double opt-in page; a failure is a page in the reader's language."""
    app = web.Application(middlewares=[answering(confirm.error_page)])
    app.router.add_routes([web.get("/{token}", confirm.show), web.post("/{token}", confirm.confirm)])
    return app


def me_app() -> web.Application:
    """/me and /me/{token}: the person's own page; a failure is a page in the reader's language."""
    app = web.Application(middlewares=[answering(me.error_page)])
    app.router.add_routes(
        [
            web.get("", me.ask_form),
            web.post("", me.ask),
            web.get("/{token}", me_page.show),
            web.post("/{token}", me_page.act),
            web.get("/{token}/export.json", me_page.export),
        ]
    )
    return app


def staff_app() -> web.Application:
    """/staff/: the staff console; a failure is a page in the console's layout."""
    app = web.Application(middlewares=[answering(staff.error_page)])
    app.router.add_routes(
        [
            web.get("/", staff.pages.dashboard),
            web.get("/login", staff.pages.login_form),
            web.post("/login", staff.pages.login),
            web.post("/logout", staff.pages.logout),
            web.get("/address", staff.pages.address),
            web.post("/suppress", staff.pages.suppress),
            web.post("/lift", staff.pages.lift),
            web.post("/consent", staff.pages.give_consent),
            web.get("/lists", staff.lists.lists),
            web.post("/lists/import", staff.lists.upload),
            web.get(r"/lists/export.{format:csv|ndjson}", staff.lists.download),
            web.get("/requests/{id}", staff.pages.privacy_request),
            web.get(r"/requests/{id}/export.{format:json|html}", staff.pages.request_export),
            web.post("/requests/{id}/close", staff.pages.close_request),
            web.get("/messages", staff.messages.held),
            web.get("/messages/{id}", staff.messages.read),
            web.post("/messages/{id}/release", staff.messages.release),
            web.get("/outbox", staff.outbox.dead),
            web.post("/outbox/{id}/retry", staff.outbox.retry),
            web.post("/outbox/{id}/discard", staff.outbox.discard),
            web.get("/campaigns", staff.campaigns.campaigns),
            web.post("/campaigns/resume", staff.campaigns.resume),
        ]
    )
    return app
