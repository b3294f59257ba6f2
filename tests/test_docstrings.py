"""Every module under service/ opens with a docstring of one to three lines.

The longer reasoning belongs in docs/ (docs/design.md and the others)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SERVICE = Path(__file__).resolve().parent.parent / "service"
MAX_LINES = 3

MODULES = sorted(SERVICE.rglob("*.py"))


def _name(path: Path) -> str:
    return path.relative_to(SERVICE.parent).as_posix()


def test_there_are_modules_to_check():
    assert len(MODULES) > 50


@pytest.mark.parametrize("path", MODULES, ids=_name)
def test_module_docstring_is_one_to_three_lines(path: Path):
    doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")), clean=False)
    assert doc and doc.strip(), f"{_name(path)} has no module docstring"
    lines = len(doc.strip().splitlines())
    assert lines <= MAX_LINES, f"{_name(path)}: module docstring of {lines} lines, at most {MAX_LINES}"
