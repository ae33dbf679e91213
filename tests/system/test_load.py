"""Mixed load on a real server from many clients, checked against a model of what every user must have."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator

import pytest

from tests.load import Tally, assert_matches_model, mixed_load
from tests.support import ServerProcess, serving

CLIENTS = 32  # with two users each and 70 operations each: 2,240 operations over 64 users


@pytest.fixture(scope="module")
def server(database_url: str) -> Iterator[ServerProcess]:
    with serving(database_url, "--no-migrate") as server:
        yield server


def test_mixed_load_loses_nothing(
    server: ServerProcess, measured: Callable[[str, str], None], database_url: str
) -> None:
    tally = Tally()

    started = time.monotonic()
    model = asyncio.run(mixed_load(server.base_url, tally, CLIENTS))
    elapsed = time.monotonic() - started

    assert tally.operations >= 2000
    assert len(model) >= 50
    assert not [status for status in tally.statuses if status >= 500]
    assert_matches_model(server.base_url, model)
    backend = database_url.split(":", 1)[0]
    measured(
        f"mixed load ({backend})",
        f"{tally.operations} operations from {CLIENTS} clients over {len(model)} users in {elapsed:.1f} s"
        f" = {tally.operations / elapsed:.0f} requests/s; statuses {dict(sorted(tally.statuses.items()))}",
    )
