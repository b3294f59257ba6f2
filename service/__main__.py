"""The command line: `optout <command>` (same as `python -m service <command>`)."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from . import __version__, commands, runner
from .domain.apikeys import SCOPES
from .domain.errors import DomainError
from .domain.events.model import EventType
from .domain.suppressions.rules import REASONS, SOURCES
from .logs import configure_logging
from .services import Services
from .settings import SettingsError, load_settings
from .storage.db import UNAVAILABLE, MigrationChanged, MigrationsMissing, NoDatabase

log = logging.getLogger("optout")

PARTS = ("run", "serve", "inbound", "worker", "gateway")  # the commands that run until stopped
MAKE_VAR = ("run", "serve", "migrate")  # the commands that make var/ (keys, embedded database)

ENVIRONMENT_HELP = """configuration comes from environment variables (DATABASE_URL, PORT, OPTOUT_HOST,
WEB_CONCURRENCY, OPTOUT_PUBLIC_URL, OPTOUT_SECRET_KEYS, OPTOUT_HASH_KEY, ...); see README.md.
Without DATABASE_URL an embedded PostgreSQL runs in ./var/pg: `run`, `serve` and `migrate`
create it there; the other commands use it only where it exists (run them in the same folder)."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="optout", description="CETIT's suppression list, unsubscribe links and inbound mail.",
        epilog=ENVIRONMENT_HELP, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"optout {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="a command also logs what it did on the way (the database it used, ...)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    sub.add_parser("run", help="start every part in one process (web, inbound receiver, worker, gateway)",
                   description="Start the web app, the inbound mail receiver, the worker (with the outbox) and "
                               "the sending gateway in one process until SIGTERM; with WEB_CONCURRENCY above 1, "
                               "as many more processes serve the web app on the same port.")
    sub.add_parser("serve", help="start the web app (WEB_CONCURRENCY processes)",
                   description="Start the web app; WEB_CONCURRENCY processes share PORT (SO_REUSEPORT).")
    sub.add_parser("inbound", help="start the inbound mail receiver (LMTP and SMTP on OPTOUT_SMTP_PORT)",
                   description="Receive the mail of info@ by LMTP or SMTP on OPTOUT_SMTP_PORT and store it "
                               "durably (250 only once stored, 451 while the database is unavailable) until SIGTERM.")
    sub.add_parser("gateway", help="start the sending gateway (SMTP on OPTOUT_GATEWAY_PORT)",
                   description="An SMTP relay for senders: refuses suppressed recipients, adds each recipient's "
                               "List-Unsubscribe headers, and sends each copy through OPTOUT_RELAY_URL from the "
                               "outbox (checked again just before it leaves), with the recipient's own return path "
                               "as envelope sender, signed with DKIM when OPTOUT_DKIM_KEY is set.")
    sub.add_parser("worker", help="start the inbound queue worker and the outbox (classify, act, send)",
                   description="Classify stored inbound messages, act on them (suppress, count soft bounces), "
                               "and send what the outbox holds: forwards to OPTOUT_FORWARD_TO, gateway copies, "
                               "webhook deliveries, until SIGTERM. Several workers may share one queue.")
    sub.add_parser("migrate", help="apply pending database migrations and exit",
                   description="Apply the pending migrations in sql/migrations and exit.")

    keys = sub.add_parser("keys", help="create, list or revoke API keys", description="Manage API keys.")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True, metavar="ACTION")
    create = keys_sub.add_parser("create", help="create a key and print it on stdout",
                                 description="Create an API key; the key alone is printed on stdout, once.")
    create.add_argument("name", help="who or what uses the key, e.g. 'campaign-tool'")
    create.add_argument("--scope", action="append", required=True, choices=SCOPES,
                        help="a scope the key grants (repeat for several; admin implies all)")
    keys_sub.add_parser("list", help="list keys (never the keys themselves)", description="List API keys.")
    revoke = keys_sub.add_parser("revoke", help="revoke a key by id", description="Revoke an API key.")
    revoke.add_argument("id", type=int, help="the key's id, from `optout keys list`")

    hooks = sub.add_parser("webhooks", help="add, list or remove webhook subscriptions",
                           description="Manage the URLs that receive events (signed as Standard Webhooks do).")
    hooks_sub = hooks.add_subparsers(dest="webhooks_command", required=True, metavar="ACTION")
    add = hooks_sub.add_parser(
        "add", help="subscribe a URL to events; prints its id, then its secret",
        description="Subscribe URL to events. Prints the subscription's id on the first line of stdout and its "
                    "signing secret alone on the last line, once (anything else goes to stderr).")
    add.add_argument("url", help="https://..., or http:// on 127.0.0.1, ::1 or localhost")
    add.add_argument("--event", action="append", required=True, choices=[t.value for t in EventType],
                     metavar="TYPE", help="an event type to send (repeat for several): "
                                          + ", ".join(t.value for t in EventType))
    hooks_sub.add_parser("list", help="list subscriptions (never their secrets)",
                         description="List the webhook subscriptions: id, created, by whom, URL and events.")
    remove = hooks_sub.add_parser("remove", help="remove a subscription by id",
                                  description="Remove a webhook subscription; its deliveries not yet made are dropped.")
    remove.add_argument("id", help="the subscription's id, from `optout webhooks list`")

    scopes = sub.add_parser("scopes", help="list or register scopes: labels and consent rule",
                            description="The kinds of marketing mail CETIT sends, with their labels in Dutch, "
                                        "English and French and whether they need the person's consent.")
    scopes_sub = scopes.add_subparsers(dest="scopes_command", required=True, metavar="ACTION")
    scopes_sub.add_parser("list", help="list the registered scopes",
                          description="List the registered scopes: name, consent rule and labels.")
    register = scopes_sub.add_parser(
        "set", help="register a scope, or change its labels and consent rule",
        description="Register SCOPE (lower-case letters, digits, - and _), or change it. Example: optout scopes "
                    "set newsletter --label nl=Nieuwsbrief --label en=Newsletter --label fr=\"Lettre d'information\" "
                    "--consent required")
    register.add_argument("scope")
    register.add_argument("--label", action="append", required=True, metavar="LANG=TEXT",
                          help="its label in nl, en or fr (repeat; nl is needed)")
    register.add_argument("--consent", default="none", choices=("required", "soft_opt_in", "none"),
                          help="required: only with a given consent; soft_opt_in: existing customers "
                               "(the Belgian exception); none (default)")

    suppress = sub.add_parser("suppress", help="suppress an address (e.g. an opt-out given by phone)",
                              description="Suppress an address in a scope.")
    suppress.add_argument("email")
    suppress.add_argument("--scope", default="global", help="scope (default: global, all marketing)")
    suppress.add_argument("--reason", default="manual", choices=REASONS, help="default: manual")
    suppress.add_argument("--source", default="phone", choices=SOURCES, help="default: phone")
    suppress.add_argument("--note", help="what staff should know, e.g. who called and when")

    check = sub.add_parser("check", help="may this address be mailed? exit 0 allowed, 1 blocked, 2 error",
                           description="Print 'allowed' (exit 0) or 'blocked: REASON (SCOPE, SINCE)' (exit 1); exit 2 on an error.")
    check.add_argument("email")
    check.add_argument("--scope", default="global", help="scope of the mail (default: global)")

    imp = sub.add_parser("import", help="import a .csv or .ndjson file of suppressions",
                         description="Import suppressions from FILE (.csv: email[,scope,reason,source,note]; .ndjson).")
    imp.add_argument("file", type=Path)
    exp = sub.add_parser("export", help="export the whole list to a .csv or .ndjson file",
                         description="Export every suppression to FILE (.csv or .ndjson by extension).")
    exp.add_argument("file", type=Path)
    return parser


def dispatch(args: argparse.Namespace, settings) -> int:
    if args.command == "serve":
        return runner.serve(settings)
    if args.command == "run":
        return runner.run(settings, runner.all_parts(), create_embedded=True)
    if args.command == "inbound":
        return runner.run(settings, [runner.inbound_part])
    if args.command == "worker":
        return runner.run(settings, [runner.worker_part])
    if args.command == "gateway":
        return runner.run(settings, [runner.gateway_part])
    settings = runner.database_ready(settings, attempts=2, create_embedded=args.command == "migrate")
    services = Services.build(settings)  # the commands' one copy of the signer and the keyed hash
    if args.command == "migrate":
        return commands.migrate(settings)
    if args.command == "keys":
        if args.keys_command == "create":
            return commands.run_command(commands.keys_create(settings, args.name, args.scope))
        if args.keys_command == "list":
            return commands.run_command(commands.keys_list(settings))
        return commands.run_command(commands.keys_revoke(settings, args.id))
    if args.command == "scopes":
        if args.scopes_command == "list":
            return commands.run_command(commands.scopes_list(settings))
        return commands.run_command(commands.scopes_set(settings, args.scope, args.label, args.consent))
    if args.command == "webhooks":
        if args.webhooks_command == "add":
            return commands.run_command(commands.webhooks_add(settings, args.url, args.event))
        if args.webhooks_command == "list":
            return commands.run_command(commands.webhooks_list(settings))
        return commands.run_command(commands.webhooks_remove(settings, args.id))
    if args.command == "suppress":
        return commands.run_command(
            commands.suppress(services, args.email, args.scope, args.reason, args.source, args.note)
        )
    if args.command == "check":
        return commands.run_command(commands.check(services, args.email, args.scope))
    if args.command == "import":
        return commands.run_command(commands.import_file(services, args.file))
    if args.command == "export":
        return commands.run_command(commands.export_file(settings, args.file))
    raise AssertionError(args.command)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings(create_keys=args.command in MAKE_VAR)
    except SettingsError as exc:
        print(f"optout: configuration error: {exc}", file=sys.stderr)
        return 2
    # A part that runs logs what it does; a one-shot command prints its answer, and logs only
    # warnings unless asked (-v).
    configure_logging(settings.log_format,
                      logging.INFO if args.verbose or args.command in (*PARTS, "migrate") else logging.WARNING)
    try:
        return dispatch(args, settings)
    except SettingsError as exc:  # found only when a part starts (a certificate that does not load)
        print(f"optout: configuration error: {exc}", file=sys.stderr)
        return 2
    except DomainError as exc:
        print(f"optout: {exc.message}", file=sys.stderr)
        return 2
    except (NoDatabase, MigrationsMissing, MigrationChanged) as exc:
        print(f"optout: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # the reader went away (`optout keys list | head -1`): not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except FileNotFoundError as exc:
        print(f"optout: no such file: {exc.filename}", file=sys.stderr)
        return 2
    except UNAVAILABLE as exc:
        print(f"optout: the database cannot be reached ({exc.__class__.__name__}); "
              "check DATABASE_URL and that PostgreSQL is running", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
