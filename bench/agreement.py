"""`python -m bench.agreement [LABELS ...] [--verbose]`: how often the classifier agrees with a
labeled set's class, addresses and hard/soft, counted exactly as
`tests/domain/test_bounce_reading.py` compares them (the test uses `reading` and `expected` below).

Each figure is given before the listed disagreements (agreeing with the label) and after them
(agreeing, or kept against the label for the reason listed in tests/corpus/disagreements.tsv);
what is neither fails the test. Classified directly, no database: a measure, not a benchmark.
The default set is the larger one, `labels-sisimai.tsv` (418 messages labeled by sisimai 4.25).
"""

from __future__ import annotations

import argparse
import csv
import sys
from datetime import timedelta
from pathlib import Path

from service.domain.inbound.classify import Envelope, Verdict, classify
from service.domain.tokens import TokenSigner

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "corpus"
DISAGREEMENTS_FILE = ROOT / "tests" / "corpus" / "disagreements.tsv"
FIELDS = ("class", "addresses", "kind")
OWN = frozenset({"info@cetit.be"})
SIGNER = TokenSigner(("agreement-key-" + "a" * 20,), timedelta(days=90))


def verdict_of(raw: bytes) -> Verdict:
    """As the worker classifies a message that reached info@cetit.be (no trusted Authentication-Results)."""
    return classify(raw, Envelope(None, ("info@cetit.be",)), SIGNER.verify, OWN)


def reading(verdict: Verdict) -> dict[str, object]:
    """The fields a label gives: for a bounce, the addresses acted on (suppressed or counted soft)."""
    bounce = verdict.classification == "bounce"
    acted = {s.address for s in verdict.suppress} | set(verdict.soft_bounces) if bounce else set(verdict.addresses)
    return {"class": str(verdict.classification), "addresses": sorted(acted),
            "kind": "hard+soft" if verdict.suppress and verdict.soft_bounces else verdict.kind or "-"}


def expected(row: dict[str, str]) -> dict[str, object]:
    return {"class": row["classification"], "addresses": sorted(a for a in row["addresses"].split(",") if a),
            "kind": row["kind"] or "-"}


def listed_disagreements() -> dict[tuple[str, str], str]:
    with DISAGREEMENTS_FILE.open(encoding="utf-8", newline="") as f:
        return {(r["file"], r["field"]): r["reason"] for r in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)}


def measure(labels: Path, verbose: bool = False) -> dict[str, tuple[int, int, int]]:
    """Per field, and for class and addresses together: (agreeing, listed, messages); prints each
    field that does not agree when verbose."""
    listed = listed_disagreements()
    with labels.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    counts = {field: [0, 0] for field in (*FIELDS, "class and addresses")}
    for row in rows:
        got, want = reading(verdict_of((labels.parent / row["file"]).read_bytes())), expected(row)
        differing = [(row["file"], f) in listed for f in ("class", "addresses") if got[f] != want[f]]
        if not differing:
            counts["class and addresses"][0] += 1
        elif all(differing):
            counts["class and addresses"][1] += 1
        for field in FIELDS:
            if got[field] == want[field]:
                counts[field][0] += 1
                continue
            reason = listed.get((row["file"], field))
            counts[field][1] += reason is not None
            if verbose:
                print(f"    {row['file']} {field}: got {got[field]}, label {want[field]}; "
                      f"{'listed: ' + reason if reason else 'NOT LISTED'}")
    return {field: (right, kept, len(rows)) for field, (right, kept) in counts.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.agreement", description=__doc__.split("\n\n")[0])
    parser.add_argument("labels", nargs="*", default=["labels-sisimai.tsv"],
                        help=f"label files of {SHARED} (labels-sisimai.tsv)")
    parser.add_argument("--verbose", action="store_true", help="print every field that does not agree, and why")
    args = parser.parse_args(argv)
    for name in args.labels:
        path = SHARED / name
        if not path.is_file():
            print(f"{path}: not found")
            return 1
        print(f"{name}: agreement with the label, before / after the listed disagreements")
        figures = measure(path, args.verbose)
        for field, (right, kept, total) in figures.items():
            print(f"  {field:<20} {right}/{total} agree; {right + kept}/{total} agree or listed")
        wrong = sum(total - right - kept for field, (right, kept, total) in figures.items() if field in FIELDS)
        print(f"  fields neither agreeing nor listed: {wrong}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
