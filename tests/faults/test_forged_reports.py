"""A stranger's forged reports against a running `optout run` over real sockets: a list CETIT
mailed (each recipient given a return path), reports that name its people sent to info@, to
another recipient's return path and to a return path at a foreign domain; only a report that
came back through a person's own return path suppresses them."""

from __future__ import annotations

import re

import aiohttp
import aiosmtplib

from service.domain.apikeys import create_key
from tests.faults.conftest import wait
from tests.test_return_path_bounces import dsn, forged_dsn

LIST_SIZE = 200


async def deliver(port: int, raw: bytes, recipient: str) -> str:
    """SMTP with the null sender, as a bounce comes; the stored message's id from the reply."""
    async with aiosmtplib.SMTP(hostname="127.0.0.1", port=port, timeout=20) as smtp:
        _refused, reply = await smtp.sendmail("", [recipient], raw)
    return re.search(r"stored as ([0-9a-f-]{36})", reply).group(1)


async def test_forged_reports_about_a_mailed_list_suppress_no_one_and_a_real_bounce_still_does(db, services):
    _id, key = await create_key(db, "faults", ["admin"])
    service = services("run")
    await service.logged("inbound mail (LMTP and SMTP) listening")
    base, smtp_port = f"http://127.0.0.1:{services.ports['PORT']}", services.ports["OPTOUT_SMTP_PORT"]
    auth = {"Authorization": f"Bearer {key}"}
    mailed = [f"klant{n}@example.be" for n in range(LIST_SIZE)]

    async with aiohttp.ClientSession() as http:
        async with http.post(f"{base}/v1/links", headers=auth,
                             json={"recipients": [{"email": a, "scope": "newsletter"} for a in mailed]}) as response:
            assert response.status == 200, await response.text()
            paths = {link["email"]: link["return_path"] for link in (await response.json())["links"]}

        victims = mailed[:10]
        sent = [await deliver(smtp_port, forged_dsn(victims, number=n), "info@cetit.be") for n in range(5)]
        sent.append(await deliver(smtp_port, forged_dsn(mailed[10:20], number=5), paths[mailed[-1]]))
        foreign = paths[mailed[30]].rpartition("@")[0] + "@evil.example"
        sent.append(await deliver(smtp_port, dsn(mailed[30], "5.1.1", number=6), foreign))
        genuine = await deliver(smtp_port, dsn(mailed[40], "5.1.1", number=7), paths[mailed[40]])

        async def processed() -> bool:
            for message_id in (*sent, genuine):
                async with http.get(f"{base}/v1/inbound/{message_id}", headers=auth) as response:
                    if (await response.json())["status"] != "processed":
                        return False
            return True

        await wait(processed, 60, "every report to be processed")

    rows = await db.fetch("SELECT address, reason, source FROM suppressions ORDER BY address")
    assert [tuple(r) for r in rows] == [(mailed[-1], "bounce", "verp"), (mailed[40], "bounce", "verp")]
