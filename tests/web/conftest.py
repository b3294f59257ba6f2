"""The staff console's fixtures: a logged-in staff member, and reading a page's CSRF token."""

import re

import pytest

from tests.conftest import make_key


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


async def login(client, key):
    page = await (await client.get("/staff/login")).text()
    return await client.post("/staff/login", data={"csrf": csrf_of(page), "key": key}, allow_redirects=False)


@pytest.fixture
async def staff(client, pool):
    """The test client, logged in to the console as "Ann at the desk" (a key of scope write), who
    switched it to English (the console is Dutch by default; tests of the Dutch use staff_nl)."""
    key = await make_key(pool, "write", name="Ann at the desk")
    response = await login(client, key)
    assert response.status == 303
    switched = await client.get("/staff/?lang=en")
    assert switched.status == 200 and 'lang="en"' in await switched.text()
    return client


@pytest.fixture
async def staff_nl(client, pool):
    """The test client, logged in to the console as it opens: in Dutch."""
    key = await make_key(pool, "write", name="Ann aan de balie")
    response = await login(client, key)
    assert response.status == 303
    return client
