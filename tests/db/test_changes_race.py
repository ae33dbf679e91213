"""Followers of the changes feed racing concurrent writers, on both databases, model-based: many writers create,
replace, toggle and delete one user's tasks (some with an Idempotency-Key, half in transactions held open while
others commit, so that on PostgreSQL commits come in another order than transaction ids), while followers, begun
at different moments (one through the service's endpoint, sync tokens and all), keep reading pages of random
sizes and applying them to copies of their own. Once the writers are done and each follower has followed to the
end, every copy is exactly the user's tasks, and no follower was given any change twice, a state never
committed, or a task's states out of order."""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from db import tasks
from db.database import Database, UnitOfWork
from db.idempotency import Claim
from db.tasks import TaskFields, TaskNotFound, VersionedTask
from tasks_api.settings import Settings
from tests.db.test_changes import BEGIN_TRANSACTION, Change, Follower, current, run
from tests.support import new_user, running_app, wait_for_feed

WRITERS = 8
WRITES_EACH = 40
# One of them through the service's endpoint.
FOLLOWERS = 3
TAGS = ["home", "work", "errand"]


def _canonical(task: dict[str, Any]) -> str:
    return json.dumps(task, sort_keys=True)


class Written:
    """What the writers committed: each task state by its id and document (its version), and the deletions."""

    def __init__(self) -> None:
        self.states: dict[tuple[str, str], int] = {}
        self.deleted: set[str] = set()
        self.live: list[str] = []
        self.count = 0
        self.reached: list[tuple[int, asyncio.Event]] = []

    def state(self, task_id: str, stored: VersionedTask) -> None:
        key = (task_id, _canonical(json.loads(stored.json)))
        # Each write gives its task a state of its own (a new title or completion, a new updated_at), so that a
        # state given twice is a change given twice.
        assert key not in self.states, "two writes left one task in the same state"
        self.states[key] = stored.version
        self._counted()

    def deletion(self, task_id: str) -> None:
        self.deleted.add(task_id)
        self.live.remove(task_id)
        self._counted()

    def _counted(self) -> None:
        self.count += 1
        for count, event in self.reached:
            if self.count >= count:
                event.set()

    def when(self, count: int) -> asyncio.Event:
        event = asyncio.Event()
        self.reached.append((count, event))
        if self.count >= count:
            event.set()
        return event


def _fields(rng: random.Random, title: str) -> TaskFields:
    return TaskFields(
        title,
        description=rng.choice([None, "", f"about {title}"]),
        priority=rng.choice(["Low", "Medium", "High"]),
        tags=rng.sample(TAGS, rng.randint(0, len(TAGS))),
        due_at=rng.choice([None, datetime(2027, 1, 1, tzinfo=UTC) + timedelta(minutes=rng.randint(0, 10**5))]),
    )


def _claim(rng: random.Random) -> Claim | None:
    if rng.random() < 0.75:
        return None
    now = datetime.now(UTC)
    return Claim(str(uuid.uuid4()), rng.randbytes(32), now, now - timedelta(days=1))


async def _write(work: UnitOfWork, rng: random.Random, owner: str, written: Written, title: str) -> Callable[[], None]:
    """One random write in ``work``; what records it once it has committed."""
    operation = rng.choice(["create", "create", "replace", "toggle", "toggle", "delete"]) if written.live else "create"
    claim = _claim(rng)
    if operation == "create":
        task_id, stored = await tasks.create_task(work, owner, _fields(rng, title), claim)

        def created() -> None:
            written.live.append(str(task_id))
            written.state(str(task_id), stored)

        return created
    target = rng.choice(written.live)
    if operation == "delete":
        await tasks.delete_task(work, owner, uuid.UUID(target), claim=claim)
        return lambda: written.deletion(target)
    if operation == "replace":
        fields = _fields(rng, title)
        completed = rng.random() < 0.5
        stored = await tasks.update_task(work, owner, uuid.UUID(target), fields, is_completed=completed, claim=claim)
    else:
        stored = await tasks.toggle_task(work, owner, uuid.UUID(target), claim=claim)
    return lambda: written.state(target, stored)


async def _writer(database: Database, seed: str, owner: str, written: Written) -> None:
    rng = random.Random(seed)
    for step in range(WRITES_EACH):
        held = rng.random() < 0.5
        try:
            async with database.unit_of_work() as work:
                if held:
                    await work.execute(BEGIN_TRANSACTION, {})
                record = await _write(work, rng, owner, written, f"{seed} {step}")
                if held:
                    # The transaction stays open over a few round trips, while other writers commit.
                    for _ in range(rng.randint(1, 3)):
                        await work.fetch_one(BEGIN_TRANSACTION, {})
        except TaskNotFound:  # deleted by another writer meanwhile
            continue
        record()


async def _follow_while(
    database: Database, follower: Follower, rng: random.Random, writing: asyncio.Future[Any]
) -> list[Change]:
    given: list[Change] = []
    while not writing.done():
        follower.limit = rng.randint(1, 6)
        entries, _ = await follower.page(database)
        given += entries
        # SQLite's reads run on the event loop without a pause: let the writers on.
        await asyncio.sleep(0)
    return given


def _check_given(given: list[Change], written: Written) -> None:
    """Each change once, each a committed state, each task's states in the order they were written."""
    seen: set[str] = set()
    last_version: dict[str, int] = {}
    for entry in given:
        task_id = entry["id"]
        assert task_id not in seen or not entry["deleted"], f"{task_id}'s deletion was given twice"
        if entry["deleted"]:
            assert task_id in written.deleted, f"{task_id} was given as deleted but never was"
            seen.add(task_id)
            continue
        assert task_id not in seen, f"{task_id} was given after its deletion"
        version = written.states.get((task_id, _canonical(entry["task"])))
        assert version is not None, f"{task_id} was given in a state no write committed: {entry['task']}"
        earlier = last_version.get(task_id, 0)
        assert version > earlier, f"{task_id} given at version {version} after version {earlier}"
        last_version[task_id] = version


class HttpFollower(Follower):
    """A follower through the service's own endpoint, its sync tokens and all."""

    def __init__(self, owner: str, client: httpx.AsyncClient) -> None:
        super().__init__(owner)
        self.client = client
        self.since: str | None = None

    async def page(self, database: Database) -> tuple[list[Change], bool]:
        params: dict[str, Any] = {"limit": self.limit}
        if self.since is not None:
            params["since"] = self.since
        response = await self.client.get(f"/api/{self.owner}/tasks/changes", params=params)
        assert response.status_code == 200, response.text
        body = response.json()
        self.since = body["next_since"]
        for entry in body["changes"]:
            if entry["deleted"]:
                self.copy.pop(entry["id"], None)
            else:
                self.copy[entry["id"]] = entry["task"]
        return body["changes"], body["has_more"]


@pytest.fixture(scope="module")
def server(database_url: str) -> Iterator[str]:
    with running_app(Settings(database_url=database_url)) as base_url:
        yield base_url


@pytest.mark.parametrize("seed", range(2))
def test_followers_racing_writers_end_with_exact_copies_and_no_change_given_twice(
    database_url: str, server: str, seed: int
) -> None:
    owner = new_user()

    async def scenario(database: Database) -> tuple[Written, list[Follower], list[list[Change]], dict[str, Any]]:
        written = Written()
        total = WRITERS * WRITES_EACH
        writers = [_writer(database, f"{seed}-{n}", owner, written) for n in range(WRITERS)]
        writing = asyncio.ensure_future(asyncio.gather(*writers))
        client = httpx.AsyncClient(base_url=server, timeout=30)
        followers = [Follower(owner) for _ in range(FOLLOWERS)]
        followers[1] = HttpFollower(owner, client)

        async def follower_run(index: int) -> list[Change]:
            # Begun at different moments: one before any write, the others part way.
            await written.when(index * total // 8).wait()
            return await _follow_while(database, followers[index], random.Random(f"{seed}/{index}"), writing)

        given = await asyncio.gather(*(follower_run(index) for index in range(FOLLOWERS)))
        await writing
        wait_for_feed(database_url)
        for follower, entries in zip(followers, given, strict=True):
            entries += await follower.follow(database)
        await client.aclose()
        return written, followers, list(given), await current(database, owner)

    written, followers, given, tasks_now = run(database_url, scenario, pool_size=WRITERS + FOLLOWERS + 2)

    assert len(written.deleted) > 10 and len(tasks_now) > 10, "the workload ran"
    for follower, entries in zip(followers, given, strict=True):
        _check_given(entries, written)
        assert follower.copy == tasks_now
