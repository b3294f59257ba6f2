"""`python -m bench [NAME ...]`: run the benchmarks (all but `scaling` by default), each printing
`service X/s, baseline Y/s, ratio Z` and whether the issue's target is met (info only)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from . import (check_bulk, check_single, corpus, gateway, import_1m, inbound, mail_bomb, one_click, same_job, scaling,
               webhooks)
from .harness import DATABASE_VARIABLES, database_url
from .production import LIST_SIZE

BENCHMARKS = {
    "check_bulk": check_bulk,
    "check_single": check_single,
    "corpus": corpus,
    "gateway": gateway,
    "import_1m": import_1m,
    "inbound": inbound,
    "mail_bomb": mail_bomb,
    "one_click": one_click,
    "same_job": same_job,
    "scaling": scaling,
    "webhooks": webhooks,
}
# Run only when named: about 15 minutes, with PostgreSQL servers and ten million rows of its own.
BY_NAME_ONLY = ("scaling",)
DEFAULT = [name for name in BENCHMARKS if name not in BY_NAME_ONLY]


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Benchmarks of the optout service beside raw asyncpg/aiohttp baselines. "
        f"Database: the first of ${', $'.join(DATABASE_VARIABLES)} that is set, else the embedded "
        "PostgreSQL in ./var; each benchmark works in a schema of its own, dropped at the end.",
    )
    parser.add_argument(
        "names", nargs="*", metavar="NAME",
        help=f"benchmarks to run: {', '.join(BENCHMARKS)} (all but {', '.join(BY_NAME_ONLY)})"
    )
    option = parser.add_argument
    option("--repeat", type=int, default=3, help="timed runs after the warm-up; medians are shown (3)")
    option("--recipients", type=int, default=100_000,
           help="check_bulk, gateway, same_job, scaling: recipients per check (100000)")
    option("--concurrency", type=int, default=32,
           help="check_single, one_click, same_job, scaling: concurrent clients (32)")
    option("--duration", type=float, default=5.0,
           help="check_single, one_click, gateway, same_job, scaling: seconds per timed run (5)")
    option("--senders", type=int, default=8, help="gateway: concurrent SMTP clients (8)")
    option("--list-size", type=int, default=LIST_SIZE,
           help="check_bulk, check_single, import_1m, inbound, one_click, same_job: suppressions of other "
           f"addresses already on the list, as in production ({LIST_SIZE})")
    option("--jobs", type=lambda value: value.split(","), default=["import", "inbound", "one_click", "bulk", "single"],
           help="same_job: which rows to measure, comma-separated (import,inbound,one_click,bulk,single)")
    option("--rows", type=int, default=1_000_000, help="import_1m, same_job: rows in the CSV file (1000000)")
    option("--web-concurrency", type=int, default=1,
           help="same_job: WEB_CONCURRENCY of `optout run`, its web processes (1, as the contract's default)")
    option("--events", type=int, default=20_000, help="webhooks: events delivered per run (20000)")
    option("--addresses", type=int, default=5_000,
           help="webhooks: distinct addresses the events are about, in order per address (5000)")
    option("--verbose", action="store_true",
           help="corpus: print every message kept against its label, with the listed reason")
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark {unknown[0]!r}; choose from {', '.join(BENCHMARKS)}")
    jobs = ("import", "inbound", "one_click", "bulk", "single")
    if not args.jobs or set(args.jobs) - set(jobs):
        parser.error(f"--jobs takes some of {','.join(jobs)}")
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    if args.events < 1 or args.addresses < 1:
        parser.error("--events and --addresses must be at least 1")
    return args


async def run(names: list[str], dsn: str, args: argparse.Namespace) -> None:
    for name in names:
        await BENCHMARKS[name].run(dsn, args)
        sys.stdout.flush()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    dsn, embedded = database_url()  # an embedded server stops when this process exits
    asyncio.run(run(args.names or DEFAULT, dsn, args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
