"""Mixed load on a real server from many clients, checked against a model of what every user must have."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from tests.support import ServerProcess, new_user, newest_first, serving

CLIENTS = 32
USERS_PER_CLIENT = 2  # 64 users; each belongs to one client, so the model of it is exact
OPERATIONS_PER_CLIENT = 70  # 2,240 operations


@dataclass
class Tally:
    operations: int = 0
    statuses: dict[int, int] = field(default_factory=dict)

    def count(self, response: httpx.Response) -> httpx.Response:
        self.operations += 1
        self.statuses[response.status_code] = self.statuses.get(response.status_code, 0) + 1
        return response


async def _client(base_url: str, users: list[str], seed: int, tally: Tally) -> dict[str, dict[str, dict[str, Any]]]:
    rng = random.Random(seed)
    model: dict[str, dict[str, dict[str, Any]]] = {user: {} for user in users}
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
        for step in range(OPERATIONS_PER_CLIENT):
            user = rng.choice(users)
            tasks = model[user]
            action = rng.choices(["create", "put", "toggle", "delete", "list"], [35, 15, 20, 10, 20])[0]
            if action == "create" or not tasks:
                body = {"title": f"task {seed}-{step}", "description": rng.choice([None, "", f"note {step}"])}
                created = tally.count(await client.post(f"/api/{user}/tasks", json=body))
                assert created.status_code == 201, created.text
                tasks[created.json()["id"]] = created.json()
                continue
            task_id = rng.choice(list(tasks))
            url = f"/api/{user}/tasks/{task_id}"
            if action == "put":
                title = f"renamed {seed}-{step}"
                replaced = tally.count(await client.put(url, json={"title": title, "is_completed": rng.random() < 0.5}))
                assert replaced.status_code == 200, replaced.text
                assert replaced.json()["title"] == title
                tasks[task_id] = replaced.json()
            elif action == "toggle":
                toggled = tally.count(await client.patch(f"{url}/complete"))
                assert toggled.status_code == 200, toggled.text
                assert toggled.json()["is_completed"] is not tasks[task_id]["is_completed"]
                tasks[task_id] = toggled.json()
            elif action == "delete":
                assert tally.count(await client.delete(url)).status_code == 204
                del tasks[task_id]
            else:
                listed = tally.count(await client.get(f"/api/{user}/tasks"))
                assert listed.status_code == 200, listed.text
                assert listed.json()["items"] == newest_first(tasks.values())
    return model


async def _drive(base_url: str, tally: Tally) -> dict[str, dict[str, dict[str, Any]]]:
    owners = [[new_user() for _ in range(USERS_PER_CLIENT)] for _ in range(CLIENTS)]
    models = await asyncio.gather(*(_client(base_url, users, seed, tally) for seed, users in enumerate(owners)))
    return {user: tasks for model in models for user, tasks in model.items()}


@pytest.fixture(scope="module")
def server(database_url: str) -> Iterator[ServerProcess]:
    with serving(database_url, "--no-migrate") as server:
        yield server


def test_mixed_load_loses_nothing(
    server: ServerProcess, measured: Callable[[str, str], None], database_url: str
) -> None:
    tally = Tally()

    started = time.monotonic()
    model = asyncio.run(_drive(server.base_url, tally))
    elapsed = time.monotonic() - started

    assert tally.operations >= 2000
    assert len(model) >= 50
    assert not [status for status in tally.statuses if status >= 500]
    for user, tasks in model.items():
        listed = httpx.get(f"{server.base_url}/api/{user}/tasks").json()
        assert listed["items"] == newest_first(tasks.values()), f"user {user} differs from the model"
        assert listed["count"] == len(tasks)
        assert {task["user_id"] for task in listed["items"]} <= {user}
    backend = database_url.split(":", 1)[0]
    measured(
        f"mixed load ({backend})",
        f"{tally.operations} operations from {CLIENTS} clients over {len(model)} users in {elapsed:.1f} s"
        f" = {tally.operations / elapsed:.0f} requests/s; statuses {dict(sorted(tally.statuses.items()))}",
    )
