"""The README's first steps run as written: make a key, check an address, ask for its links."""

import asyncio
import os
import re
import sys

from tests.conftest import ROOT

README_BASE = "http://127.0.0.1:8080"


def quick_start() -> str:
    """The shell block that follows "in a second terminal" in README.md."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return re.search(r"in a second terminal.*?```sh\n(.*?)```", text, re.S).group(1)


def expected_output(block: str, base: str) -> re.Pattern:
    """What the block says it prints: the comment lines under each command, a folded line joined
    with a space, the outputs one after the other (curl ends none with a newline); "..." stands
    for any text."""
    outputs, previous_was_comment = [], False
    for line in block.splitlines():
        if line.startswith("#"):
            said = line[1:].strip()
            outputs[-1:] = [f"{outputs[-1]} {said}"] if previous_was_comment else [*outputs[-1:], said]
        previous_was_comment = line.startswith("#")
    said = "".join(outputs).replace(README_BASE, base)
    return re.compile(".+?".join(re.escape(piece) for piece in said.split("...")))


async def test_the_quick_start_prints_what_the_readme_says(served, dsn, tmp_path):
    base = await served()
    block = quick_start()
    assert README_BASE in block and ".venv/bin/optout" in block
    script = block.replace(README_BASE, base).replace(".venv/bin/optout", f"{sys.executable} -m service")
    env = {**os.environ, "DATABASE_URL": dsn, "OPTOUT_VAR_DIR": str(tmp_path / "var"), "PYTHONPATH": str(ROOT),
           "OPTOUT_SECRET_KEYS": "k" * 32, "OPTOUT_HASH_KEY": "h" * 32}
    process = await asyncio.create_subprocess_exec(
        "bash", "-euo", "pipefail", "-c", script, cwd=tmp_path, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, err.decode()
    assert expected_output(block, base).fullmatch(out.decode().strip()), (out.decode(), expected_output(block, base).pattern)
    assert "created key" in err.decode() and "shown once" in err.decode()
