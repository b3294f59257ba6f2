"""Every module under service/ opens with a docstring of one to three lines.

The longer reasoning belongs in docs/ (docs/design.md and the others)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SERVICE = Path(__file__).resolve().parent.parent / "service"
MAX_LINES = 3

# Modules whose long docstrings are being shortened separately; remove each once it is done.
PENDING = {
    "service/mail/confirmation.py",
    "service/mail/self_service.py",
    "service/web/confirm.py",
    "service/web/staff_session.py",
    "service/web/staff_texts.py",
}

MODULES = sorted(SERVICE.rglob("*.py"))


def _name(path: Path) -> str:
    return path.relative_to(SERVICE.parent).as_posix()


def test_there_are_modules_to_check():
    assert len(MODULES) > 50


@pytest.mark.parametrize("path", MODULES, ids=_name)
def test_module_docstring_is_one_to_three_lines(path: Path):
    doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")), clean=False)
    assert doc and doc.strip(), f"{_name(path)} has no module docstring"
    if _name(path) in PENDING:
        return
    lines = len(doc.strip().splitlines())
    assert lines <= MAX_LINES, f"{_name(path)}: module docstring of {lines} lines, at most {MAX_LINES}"


def test_pending_modules_exist():
    names = {_name(p) for p in MODULES}
    assert PENDING <= names, sorted(PENDING - names)
