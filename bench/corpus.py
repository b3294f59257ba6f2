"""corpus: how well the classifier reads the labeled mail, and how fast, beside
`email.message_from_bytes` with `email.policy.default` walking every part of the same messages.

Every message of each labeled set of the shared corpus (`labels.tsv`: labeled by hand;
`labels-sisimai.tsv`: labeled by sisimai 4.25) is classified directly, without a database, as
the worker would (envelope recipient info@cetit.be, CETIT's own address info@cetit.be, no
trusted Authentication-Results). Per class of the label it prints how many messages got the
right class, the right addresses and, for bounces, the right hard/soft kind.

Where this reading is kept against a label for a reason a mail administrator would accept, the
file and field are listed with that reason in tests/corpus/disagreements.tsv (the tests hold
every message to its label or to that list); such a field is counted apart as "listed", and
the file's lines are printed with the reason. All correct means: every field right or listed.

Addresses are compared as sets of canonical lower-case addresses. For a bounce, the verdict's
addresses are those it would act on: the hard ones it suppresses (`suppress`) and the soft ones
it counts (`soft_bounces`); otherwise they are `Verdict.addresses`. An address is *acted on*
when it is suppressed or counted as a soft bounce; one acted on that the label does not name
for a bounce, complaint or unsubscribe (for a person or an auto-reply: any) is counted apart.

sisimai's figure is shown where a label's note gives sisimai's reason (`sisimai reason X` in
labels.tsv, `sisimai 4.25: X` in labels-sisimai.tsv), read by the corpus README's rule: reason
`feedback` is a complaint, `vacation` an auto-reply, any other a bounce, hard only when every
reason is one of userunknown, hostunknown, hasmoved, suspend, notaccept. Its addresses agree
with the label for those bounces and complaints (labels.tsv: the README says samples where
sisimai's recipients disagreed were left out; labels-sisimai.tsv: they are sisimai's own).

The rate is messages per second over all labeled messages, the median of --repeat runs after a
warm-up, the service and the baseline in turn. This benchmark reports; nothing in it fails.
"""

from __future__ import annotations

import argparse
import csv
import email
import email.policy
import re
import statistics
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from service.domain.addresses import canonical_or_none
from service.domain.inbound.classify import Envelope, Verdict, classify
from service.domain.tokens import TokenSigner

from .harness import verdict

ROOT = Path(__file__).resolve().parents[1]
# A checkout has the shared folder beside it; a clone alone has the tests' copy (labels.tsv only).
SHARED = ROOT.parent / "shared" / "corpus"
CORPUS = SHARED if SHARED.is_dir() else ROOT / "tests" / "corpus"
LABEL_FILES = ("labels.tsv", "labels-sisimai.tsv")
DISAGREEMENTS_FILE = ROOT / "tests" / "corpus" / "disagreements.tsv"
CLASSES = ("bounce", "complaint", "unsubscribe", "auto_reply", "human")
ACTING = frozenset({"bounce", "complaint", "unsubscribe"})  # classes whose label addresses may be acted on
SIGNER = TokenSigner(("bench-key-" + "k" * 20,), timedelta(days=90))
OWN = frozenset({"info@cetit.be"})
ENVELOPE = Envelope(None, ("info@cetit.be",))
MAX_WRONG_LINES = 30
SISIMAI_HARD = frozenset({"userunknown", "hostunknown", "hasmoved", "suspend", "notaccept"})
_SISIMAI_REASON = re.compile(r"sisimai (?:reason|4\.25:) ?([a-z]+(?:,[a-z]+)*)")


@dataclass(frozen=True)
class Labeled:
    file: str
    raw: bytes
    classification: str
    kind: str  # "hard", "soft" or "-"
    addresses: frozenset[str]
    note: str


@dataclass(frozen=True)
class Outcome:
    classification: str
    kind: str
    addresses: frozenset[str]  # what is compared with the label
    acted: frozenset[str]  # suppressed or counted as a soft bounce
    split: bool = False  # a bounce that puts some addresses in suppress and others in soft_bounces


def canonical(address: str) -> str:
    return canonical_or_none(address) or address.strip().lower()


def known_disagreements() -> dict[tuple[str, str], str]:
    """(file, field) -> why the label is not followed there; field is class, addresses or kind."""
    if not DISAGREEMENTS_FILE.is_file():
        return {}
    with DISAGREEMENTS_FILE.open(encoding="utf-8", newline="") as f:
        rows = csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        return {(row["file"], row["field"]): row["reason"] for row in rows}


def label_sets() -> list[tuple[str, list[Labeled]]]:
    """Each labeled set present in the corpus, its messages read once ({TOKEN} signed for the label)."""
    sets = []
    for name in LABEL_FILES:
        path = CORPUS / name
        if not path.is_file():
            continue
        with path.open(encoding="utf-8", newline="") as f:
            rows = list(csv.DictReader(f, delimiter="\t"))
        messages = []
        for row in rows:
            raw = (CORPUS / row["file"]).read_bytes()
            if b"{TOKEN}" in raw:
                raw = raw.replace(b"{TOKEN}", SIGNER.sign(row["addresses"]).encode())
            addresses = frozenset(canonical(a) for a in row["addresses"].split(",") if a.strip())
            messages.append(Labeled(row["file"], raw, row["classification"], row["kind"] or "-", addresses,
                                    row.get("note") or ""))
        sets.append((name, messages))
    return sets


def classify_one(raw: bytes) -> Verdict:
    return classify(raw, ENVELOPE, SIGNER.verify, OWN, trusted_authserv_id=None)


def outcome_of(raw: bytes) -> Outcome:
    try:
        verdict = classify_one(raw)
    except Exception as exc:  # reported as a wrong class, not a crash of the benchmark
        return Outcome(f"error {type(exc).__name__}", "-", frozenset(), frozenset())
    hard = frozenset(canonical(s.address) for s in verdict.suppress)
    soft = frozenset(canonical(a) for a in verdict.soft_bounces)
    if verdict.classification == "bounce":
        compared = hard | soft
    else:
        compared = frozenset(canonical(a) for a in verdict.addresses)
    return Outcome(str(verdict.classification), verdict.kind or "-", compared, hard | soft,
                   split=verdict.classification == "bounce" and bool(hard) and bool(soft))


def sisimai_reading(note: str) -> tuple[str, str] | None:
    """sisimai's class and kind where the note gives its reason(s), by the corpus README's rule."""
    found = _SISIMAI_REASON.search(note)
    if found is None:
        return None
    reasons = found.group(1).split(",")
    if "feedback" in reasons:
        return "complaint", "-"
    if "vacation" in reasons:
        return "auto_reply", "-"
    return "bounce", "hard" if all(r in SISIMAI_HARD for r in reasons) else "soft"


@dataclass
class Tally:
    messages: int = 0
    class_right: int = 0
    addresses_right: int = 0
    kind_right: int = 0
    sisimai_class: list | None = None  # [right, of]
    sisimai_addresses: list | None = None
    sisimai_kind: list | None = None

    def add_sisimai(self, field: str, right: bool) -> None:
        pair = getattr(self, field) or [0, 0]
        pair[0] += right
        pair[1] += 1
        setattr(self, field, pair)


def fraction(pair: list | None) -> str:
    return "-" if pair is None else f"{pair[0]}/{pair[1]}"


def names(addresses: frozenset[str], limit: int = 3) -> str:
    shown = sorted(addresses)
    text = ",".join(shown[:limit]) + (f",... ({len(shown)})" if len(shown) > limit else "")
    return text or "(none)"


def judge(message: Labeled, got: Outcome, listed: dict[tuple[str, str], str]
          ) -> tuple[bool, bool, bool, list[str], list[str]]:
    """Whether the class, the addresses and (for a bounce) the kind are right; how each is wrong,
    and which of the wrong fields are listed disagreements (with their reason)."""
    wrong, kept = [], []

    def differs(field: str, text: str) -> None:
        reason = listed.get((message.file, field))
        (kept if reason else wrong).append(f"{text} (listed: {reason})" if reason else text)

    class_right = got.classification == message.classification
    if not class_right:
        differs("class", f"class got {got.classification}, expected {message.classification}")
    addresses_right = got.addresses == message.addresses
    if not addresses_right:
        differs("addresses", f"addresses got {names(got.addresses)}, expected {names(message.addresses)}")
    kind_right = True
    if message.classification == "bounce":
        got_kind = "hard+soft" if got.split else got.kind
        kind_right = got_kind == message.kind
        if not kind_right:
            differs("kind", f"kind got {got_kind}, expected {message.kind}")
    return class_right, addresses_right, kind_right, wrong, kept


def accuracy(sets: list[tuple[str, list[Labeled]]], verbose: bool = False) -> tuple[int, int, int, int]:
    """Print the per-class table of each set, the wrong files and the listed disagreements;
    return (messages, all right as labeled, right or listed, stray)."""
    listed = known_disagreements()
    total = everything_right = right_or_listed = stray = 0
    wrong_lines: list[tuple[int, int, str]] = []  # (how serious, order read, line)
    kept_lines: list[str] = []
    for name, messages in sets:
        tallies = {c: Tally() for c in CLASSES}
        overall = Tally()
        for message in messages:
            got = outcome_of(message.raw)
            class_right, addresses_right, kind_right, wrong, kept = judge(message, got, listed)
            allowed = message.addresses if message.classification in ACTING else frozenset()
            extra = got.acted - allowed
            if extra and (message.file, "addresses") not in listed:
                stray += len(extra)
                wrong.append(f"acted on {names(extra)}, not a failed recipient")
            sisimai = sisimai_reading(message.note)
            for tally in (tallies.setdefault(message.classification, Tally()), overall):
                tally.messages += 1
                tally.class_right += class_right
                tally.addresses_right += addresses_right
                if message.classification == "bounce":
                    tally.kind_right += kind_right
                if sisimai is not None:
                    tally.add_sisimai("sisimai_class", sisimai[0] == message.classification)
                    if sisimai[0] in ("bounce", "complaint"):
                        tally.add_sisimai("sisimai_addresses", True)
                    if message.classification == "bounce" and sisimai[0] == "bounce":
                        tally.add_sisimai("sisimai_kind", sisimai[1] == message.kind)
            if kept:
                kept_lines.append(f"    {message.file}: {'; '.join(kept)}")
            if wrong:
                serious = 0 if extra else 1 if not class_right else 2 if not addresses_right else 3
                wrong_lines.append((serious, len(wrong_lines), f"    {message.file}: {'; '.join(wrong)}"))
            else:
                right_or_listed += 1
                everything_right += not kept
        total += len(messages)
        print(f"  {name}: {len(messages)} messages")
        print(f"    {'class':<12}{'messages':>9}{'class':>7}{'addresses':>11}{'hard/soft':>11}"
              f"   sisimai: {'class':>8}{'addresses':>11}{'hard/soft':>11}")
        for label, tally in [*tallies.items(), ("all", overall)]:
            if not tally.messages:
                continue
            bounces = sum(1 for m in messages if m.classification == "bounce")
            kind = (f"{tally.kind_right}/{tally.messages}" if label == "bounce"
                    else f"{tally.kind_right}/{bounces}" if label == "all" and bounces else "-")
            print(f"    {label:<12}{tally.messages:>9}{tally.class_right:>7}{tally.addresses_right:>11}{kind:>11}"
                  f"   {'':9}{fraction(tally.sisimai_class):>8}{fraction(tally.sisimai_addresses):>11}"
                  f"{fraction(tally.sisimai_kind):>11}")
    print("  sisimai's figures count only the messages whose label note gives sisimai's reason")
    print(f"  kept against the label, each for the reason listed in {DISAGREEMENTS_FILE.relative_to(ROOT)}: "
          f"{len(kept_lines)} files")
    for line in kept_lines if verbose else kept_lines[:0]:
        print(line)
    if kept_lines and not verbose:
        print("    (--verbose prints them with their reasons)")
    print(f"  wrong: {len(wrong_lines)} files (first those acting on an address that did not fail, then "
          "wrong class, wrong addresses, wrong hard/soft)")
    for _, _, line in sorted(wrong_lines)[:MAX_WRONG_LINES]:
        print(line)
    if len(wrong_lines) > MAX_WRONG_LINES:
        print(f"    ... and {len(wrong_lines) - MAX_WRONG_LINES} more")
    return total, everything_right, right_or_listed, stray


def service_pass(raws: list[bytes]) -> None:
    for raw in raws:
        try:
            classify_one(raw)
        except Exception:
            pass


def baseline_pass(raws: list[bytes]) -> None:
    for raw in raws:
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        for part in msg.walk():
            try:
                part.get_content()
            except Exception:
                pass


def rate(run, raws: list[bytes]) -> float:
    started = time.perf_counter()
    run(raws)
    return len(raws) / (time.perf_counter() - started)


async def run(dsn: str, args: argparse.Namespace) -> None:
    repeat = getattr(args, "repeat", 3)
    sets = label_sets()
    print(f"corpus: the labeled mail of {CORPUS} classified directly (no database), beside sisimai's "
          "figures where the labels give them")
    if not sets:
        print(f"  no labeled set found in {CORPUS}")
        return
    total, everything_right, right_or_listed, stray = accuracy(sets, getattr(args, "verbose", False))

    raws = [m.raw for _, messages in sets for m in messages]
    service_pass(raws)  # warm-up of both sides
    baseline_pass(raws)
    service_rates, baseline_rates = [], []
    for _ in range(repeat):
        service_rates.append(rate(service_pass, raws))
        baseline_rates.append(rate(baseline_pass, raws))
    ratio = statistics.median(service_rates) / statistics.median(baseline_rates)
    print(f"corpus: service {statistics.median(service_rates):,.0f} messages/s, "
          f"baseline {statistics.median(baseline_rates):,.0f} messages/s, ratio {ratio:.2f}")
    print(f"  {everything_right}/{total} messages right in class, addresses and hard/soft as labeled; "
          f"{right_or_listed - everything_right} more kept against the label for a listed reason; "
          f"{total - right_or_listed} wrong; {stray} addresses acted on that are not failed recipients")
    verdict("every labeled message right (class, addresses, hard/soft) or a listed disagreement",
            right_or_listed == total)
    verdict("no address acted on that is not a failed recipient", stray == 0)

