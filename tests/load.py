"""Load from many clients, checked against a model of what every user must have.

``mixed_load`` is strict: every answer must be the one the model expects. ``ChurnLoad`` runs until told to stop
and tolerates failed answers, for tests that kill or restart instances under it: a write that failed (502, 503,
no answer) may or may not have been applied, so the task it touched is set aside and only checked to be in one of
the two states at the end.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.support import new_user, newest_first

Tasks = dict[str, dict[str, Any]]
Model = dict[str, Tasks]


@dataclass
class Tally:
    operations: int = 0
    statuses: dict[int, int] = field(default_factory=dict)

    def count(self, response: httpx.Response) -> httpx.Response:
        self.operations += 1
        self.statuses[response.status_code] = self.statuses.get(response.status_code, 0) + 1
        return response


async def _strict_client(base_url: str, users: list[str], seed: int, operations: int, tally: Tally) -> Model:
    rng = random.Random(seed)
    model: Model = {user: {} for user in users}
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
        for step in range(operations):
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


async def mixed_load(base_url: str, tally: Tally, clients: int = 32, operations: int = 70) -> Model:
    """``clients`` clients with two users each (so the model of each user is exact), ``operations`` each."""
    owners = [[new_user(), new_user()] for _ in range(clients)]
    models = await asyncio.gather(
        *(_strict_client(base_url, users, seed, operations, tally) for seed, users in enumerate(owners))
    )
    return {user: tasks for model in models for user, tasks in model.items()}


def assert_matches_model(base_url: str, model: Model) -> None:
    """Every user's list, order included, is the model's: nothing lost, duplicated or someone else's."""
    for user, tasks in model.items():
        listed = httpx.get(f"{base_url}/api/{user}/tasks", timeout=30).json()
        assert listed["items"] == newest_first(tasks.values()), f"user {user} differs from the model"
        assert listed["count"] == len(tasks)
        assert {task["user_id"] for task in listed["items"]} <= {user}


@dataclass
class Outcome:
    started: float
    method: str
    status: int  # 0: no answer


@dataclass
class ChurnLoad:
    """Clients that create, toggle, replace, delete, read and list until ``stop`` is set."""

    base_url: str
    clients: int = 16
    outcomes: list[Outcome] = field(default_factory=list)
    model: Model = field(default_factory=dict)
    # Tasks a failed write may or may not have changed, as the model last knew them, by user.
    uncertain: dict[str, Tasks] = field(default_factory=dict)
    # Titles of creates that failed: each may exist once, or not at all.
    maybe_created: dict[str, set[str]] = field(default_factory=dict)

    async def run(self, stop: asyncio.Event) -> None:
        await asyncio.gather(*(self._client(seed, stop) for seed in range(self.clients)))

    async def _send(self, client: httpx.AsyncClient, method: str, url: str, **kwargs: Any) -> httpx.Response | None:
        started = time.monotonic()
        try:
            response = await client.request(method, url, **kwargs)
        except httpx.TransportError:
            self.outcomes.append(Outcome(started, method, 0))
            return None
        self.outcomes.append(Outcome(started, method, response.status_code))
        return response

    async def _client(self, seed: int, stop: asyncio.Event) -> None:
        rng = random.Random(seed)
        user = new_user()
        tasks: Tasks = {}
        self.model[user], self.uncertain[user], self.maybe_created[user] = tasks, {}, set()
        async with httpx.AsyncClient(base_url=self.base_url, timeout=30) as client:
            step = 0
            while not stop.is_set():
                step += 1
                action = rng.choices(["create", "toggle", "put", "delete", "get", "list"], [30, 20, 15, 10, 15, 10])[0]
                if action == "create" or not tasks:
                    title = f"churn {seed}-{step}"
                    response = await self._send(client, "POST", f"/api/{user}/tasks", json={"title": title})
                    if response is not None and response.status_code == 201:
                        tasks[response.json()["id"]] = response.json()
                    else:
                        self.maybe_created[user].add(title)
                    continue
                task_id = rng.choice(list(tasks))
                url = f"/api/{user}/tasks/{task_id}"
                if action in {"get", "list"}:
                    await self._send(client, "GET", url if action == "get" else f"/api/{user}/tasks")
                    continue
                if action == "toggle":
                    response = await self._send(client, "PATCH", f"{url}/complete")
                    expected = 200
                elif action == "put":
                    body = {"title": f"renamed {seed}-{step}", "is_completed": rng.random() < 0.5}
                    response = await self._send(client, "PUT", url, json=body)
                    expected = 200
                else:
                    response = await self._send(client, "DELETE", url)
                    expected = 204
                if response is None or response.status_code != expected:
                    self.uncertain[user][task_id] = tasks.pop(task_id)
                elif action == "delete":
                    del tasks[task_id]
                else:
                    tasks[task_id] = response.json()

    def errors(self) -> list[Outcome]:
        return [outcome for outcome in self.outcomes if not 200 <= outcome.status < 300]

    def assert_consistent(self) -> None:
        """Every acknowledged write is there; a failed one was applied entirely or not at all."""
        for user, tasks in self.model.items():
            listed = httpx.get(f"{self.base_url}/api/{user}/tasks", timeout=30).json()["items"]
            by_id = {task["id"]: task for task in listed}
            assert len(by_id) == len(listed), "a task listed twice"
            assert {task["user_id"] for task in listed} <= {user}
            for task_id, task in tasks.items():
                assert by_id.pop(task_id, None) == task, f"acknowledged write lost for {task_id}"
            for task_id, before in self.uncertain[user].items():
                after = by_id.pop(task_id, None)
                if after is not None:  # else: a delete that went through
                    assert after["created_at"] == before["created_at"]
                    assert after["title"] in {before["title"]} or after["title"].startswith("renamed ")
            titles = [task["title"] for task in by_id.values()]
            assert len(titles) == len(set(titles)), "a failed create applied twice"
            assert set(titles) <= self.maybe_created[user], f"tasks nobody created: {set(titles)}"


def under_load(load: ChurnLoad, while_loaded: Callable[[], None]) -> None:
    """Runs ``load`` in a thread of its own while ``while_loaded`` runs here, then stops it."""

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        driving = asyncio.ensure_future(load.run(stop))
        try:
            await loop.run_in_executor(None, while_loaded)
        finally:
            stop.set()
            await driving

    asyncio.run(run())


def served_since(load: ChurnLoad, since: float, count: int) -> Callable[[], bool]:
    """Whether ``load`` has sent ``count`` requests since ``since`` (a ``time.monotonic()``)."""
    return lambda: sum(1 for outcome in load.outcomes if outcome.started >= since) >= count
