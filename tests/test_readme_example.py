"""The send loop in README.md runs as written: only allowed recipients get mail, each with its headers."""

import asyncio
import os
import re
import sys

from aiosmtpd.controller import Controller

from tests.conftest import ROOT, make_key


class Sink:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.rcpt_tos, envelope.content, envelope.mail_from))
        return "250 2.0.0 OK"


async def test_the_readme_send_loop_runs_as_written(served, pool, unused_tcp_port_factory, tmp_path):
    code = re.search(r"## Sending with the client.*?```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S).group(1)
    script = tmp_path / "send.py"
    script.write_text(code)
    smtp_port = unused_tcp_port_factory()
    base = await served()
    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    key = await make_key(pool, "check", "links")
    await pool.execute("INSERT INTO suppressions (address, scope, reason, source) VALUES ('marie@example.be', 'global', 'unsubscribe', 'link')")
    try:
        process = await asyncio.create_subprocess_exec(
            sys.executable, str(script), cwd=ROOT,
            env={**os.environ, "OPTOUT_URL": base, "OPTOUT_KEY": key, "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(smtp_port),
                 "PYTHONPATH": str(ROOT)},
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        out, err = await process.communicate()
        assert process.returncode == 0, err.decode()
        assert out.decode().strip() == "1"
    finally:
        controller.stop()
    [(rcpts, content, mail_from)] = sink.messages
    assert rcpts == ["jan@example.be"]
    assert mail_from.startswith("bounces+") and mail_from.endswith("@cetit.be")  # jan's own return path
    text = content.decode()
    assert "List-Unsubscribe: <http://127.0.0.1:" in text and "List-Unsubscribe-Post: List-Unsubscribe=One-Click" in text
