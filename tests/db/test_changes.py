"""The changes feed at the data layer (db.changes), on both databases: a follower that reads on from where each
read left it gets every change once, oldest first, each task in its latest state or as its deletion; and, on
PostgreSQL, where transactions commit in another order than they got their ids, a write committed after a younger
transaction's is still delivered."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import pytest
from sqlalchemy import text

from db import changes, tasks
from db.backends import open_database
from db.changes import Position
from db.database import Database, PoolOptions, UnitOfWork
from db.tasks import TaskFields
from tests.support import new_user, wait_for_feed

T = TypeVar("T")
# How far the database's clock may be from the tests'.
CLOCKS_APART = timedelta(minutes=1)
Change = dict[str, Any]

# Not alone (db.database.UnitOfWork), so it begins the unit's transaction, which the unit's writes then join.
BEGIN_TRANSACTION = text("SELECT 1")


def run(database_url: str, scenario: Callable[[Database], Awaitable[T]], pool_size: int = 4) -> T:
    async def with_database() -> T:
        database = open_database(database_url, PoolOptions(size=pool_size, max_overflow=0))
        await database.open()
        try:
            return await scenario(database)
        finally:
            await database.dispose()

    return asyncio.run(with_database())


class Follower:
    """A client's copy of one user's tasks, kept by the feed as a client keeps it through its sync tokens
    (handlers.tasks.list_task_changes): where the last read left it, and the floor its first read set."""

    def __init__(self, owner: str, limit: int = 1000) -> None:
        self.owner = owner
        self.limit = limit
        self.after: Position | None = None
        self.floor: int | None = None
        self.copy: dict[str, dict[str, Any]] = {}

    async def page(self, database: Database) -> tuple[list[Change], bool]:
        async with database.unit_of_work() as work:
            page = await changes.read_changes(work, self.owner, self.after, self.floor, self.limit)
        if self.floor is None:
            self.floor = page.horizon
        self.after = page.next
        entries: list[Change] = json.loads(page.changes_json)
        assert len(entries) == page.size <= self.limit
        for entry in entries:
            if entry["deleted"]:
                self.copy.pop(entry["id"], None)
            else:
                self.copy[entry["id"]] = entry["task"]
        return entries, page.has_more

    async def follow(self, database: Database) -> list[Change]:
        """Every change up to the end of the feed, following pages while more follow."""
        followed: list[Change] = []
        while True:
            entries, more = await self.page(database)
            followed += entries
            if not more:
                return followed


async def create(database: Database, owner: str, title: str) -> str:
    async with database.unit_of_work() as work:
        task_id, _ = await tasks.create_task(work, owner, TaskFields(title))
    return str(task_id)


async def replace(database: Database, owner: str, task_id: str, title: str) -> None:
    async with database.unit_of_work() as work:
        await tasks.update_task(work, owner, uuid.UUID(task_id), TaskFields(title), is_completed=False)


async def toggle(database: Database, owner: str, task_id: str) -> None:
    async with database.unit_of_work() as work:
        await tasks.toggle_task(work, owner, uuid.UUID(task_id))


async def delete(database: Database, owner: str, task_id: str) -> None:
    async with database.unit_of_work() as work:
        await tasks.delete_task(work, owner, uuid.UUID(task_id))


async def current(database: Database, owner: str) -> dict[str, dict[str, Any]]:
    """The user's tasks as a list reads them now, by id."""
    async with database.unit_of_work() as work:
        page = await tasks.list_tasks(work, owner, tasks.ListQuery(limit=1000))
    return {task["id"]: task for task in json.loads(page.items_json)}


def ids(entries: list[Change]) -> list[tuple[str, bool]]:
    return [(entry["id"], entry["deleted"]) for entry in entries]


# ---- what a follower is given ------------------------------------------------------------------------------


def test_a_first_read_gives_every_current_task_once_in_its_latest_state_and_no_deletion(database_url: str) -> None:
    owner, stranger = new_user(), new_user()

    async def scenario(database: Database) -> None:
        kept, changed, removed = [await create(database, owner, title) for title in ("kept", "changed", "removed")]
        await create(database, stranger, "not the owner's")
        await replace(database, owner, changed, "changed again")
        await toggle(database, owner, changed)
        await delete(database, owner, removed)
        wait_for_feed(database_url)

        follower = Follower(owner)
        entries = await follower.follow(database)

        assert sorted(ids(entries)) == sorted([(kept, False), (changed, False)])
        assert all(set(entry) == {"id", "deleted", "task"} for entry in entries)
        assert follower.copy == await current(database, owner)
        assert follower.copy[changed]["title"] == "changed again"
        assert follower.copy[changed]["is_completed"] is True

    run(database_url, scenario)


def test_later_reads_give_each_change_once_oldest_first_with_deletions(database_url: str) -> None:
    owner = new_user()

    async def scenario(database: Database) -> None:
        a, b, c = [await create(database, owner, title) for title in "abc"]
        wait_for_feed(database_url)
        follower = Follower(owner)
        await follower.follow(database)
        before = datetime.now(UTC)

        await toggle(database, owner, a)
        await delete(database, owner, b)
        await replace(database, owner, a, "a, replaced")
        d = await create(database, owner, "d")
        after = datetime.now(UTC)
        wait_for_feed(database_url)
        entries = await follower.follow(database)

        # a once, where its last write put it; c, unchanged, not again.
        assert ids(entries) == [(b, True), (a, False), (d, False)]
        deletion = entries[0]
        assert set(deletion) == {"id", "deleted", "deleted_at"}
        # When it was deleted, by the database's clock (SQLite's in milliseconds), not the test's.
        assert before - CLOCKS_APART <= datetime.fromisoformat(deletion["deleted_at"]) <= after + CLOCKS_APART
        assert deletion["deleted_at"].endswith("Z")
        assert follower.copy == await current(database, owner)
        assert set(follower.copy) == {a, c, d}
        assert await follower.follow(database) == []

    run(database_url, scenario)


def test_another_users_changes_are_never_in_the_feed(database_url: str) -> None:
    owner, stranger = new_user(), new_user()

    async def scenario(database: Database) -> None:
        mine = await create(database, owner, "mine")
        theirs = [await create(database, stranger, title) for title in ("one", "two")]
        wait_for_feed(database_url)
        follower = Follower(owner)
        await follower.follow(database)
        await toggle(database, owner, mine)
        await toggle(database, stranger, theirs[0])
        await delete(database, stranger, theirs[1])
        wait_for_feed(database_url)

        assert ids(await follower.follow(database)) == [(mine, False)]
        assert set(follower.copy) == {mine}

    run(database_url, scenario)


# ---- pages -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("limit", [1, 2, 3, 4, 6, 7])
def test_pages_of_a_small_limit_give_every_task_once_in_order_and_say_whether_more_follow(
    database_url: str, limit: int
) -> None:
    owner = new_user()
    count = 6

    async def scenario(database: Database) -> None:
        created = [await create(database, owner, f"task {n}") for n in range(count)]
        wait_for_feed(database_url)
        follower = Follower(owner, limit)
        pages: list[tuple[list[Change], bool]] = []
        while not pages or pages[-1][1]:
            pages.append(await follower.page(database))

        # Full pages while more follow, and the one that reaches the end (full or not) says none does.
        assert [len(entries) for entries, _ in pages[:-1]] == [limit] * (len(pages) - 1)
        assert [more for _, more in pages] == [True] * (len(pages) - 1) + [False]
        assert len(pages) == -(-count // limit)
        # Oldest change first: the order they were created in.
        assert [entry["id"] for entries, _ in pages for entry in entries] == created
        assert await follower.follow(database) == []

    run(database_url, scenario)


def test_a_page_resumes_where_the_last_left_off_whatever_changed_in_between(database_url: str) -> None:
    """The next page starts at the first change the last one could not hold: that change, moved by a write
    in between, is given where it moved to, and the one after it is not lost."""
    owner = new_user()

    async def scenario(database: Database) -> None:
        a, b, c, d, e = [await create(database, owner, title) for title in "abcde"]
        wait_for_feed(database_url)
        follower = Follower(owner, limit=2)
        first, more = await follower.page(database)
        assert (ids(first), more) == ([(a, False), (b, False)], True)

        await replace(database, owner, c, "c, moved")  # where the next page was to begin
        await replace(database, owner, a, "a, moved")  # already given
        await delete(database, owner, e)  # not given yet
        wait_for_feed(database_url)
        rest = await follower.follow(database)

        assert ids(rest) == [(d, False), (c, False), (a, False), (e, True)]
        assert follower.copy == await current(database, owner)

    run(database_url, scenario)


# ---- deletions and the floor -----------------------------------------------------------------------------


def test_a_deletion_made_before_the_copy_began_is_never_given(database_url: str) -> None:
    owner = new_user()

    async def scenario(database: Database) -> None:
        gone = await create(database, owner, "gone before the copy")
        kept = await create(database, owner, "kept")
        await delete(database, owner, gone)
        wait_for_feed(database_url)
        follower = Follower(owner)
        assert ids(await follower.follow(database)) == [(kept, False)]

        # Each later read stands past the deletion, and must not give it.
        await toggle(database, owner, kept)
        wait_for_feed(database_url)
        assert ids(await follower.follow(database)) == [(kept, False)]

    run(database_url, scenario)


def test_a_deletion_made_while_the_copy_is_paged_is_given(database_url: str) -> None:
    owner = new_user()

    async def scenario(database: Database) -> None:
        a, b, c = [await create(database, owner, title) for title in "abc"]
        wait_for_feed(database_url)
        follower = Follower(owner, limit=1)
        assert ids((await follower.page(database))[0]) == [(a, False)]

        await delete(database, owner, c)  # not copied yet
        await delete(database, owner, a)  # copied
        wait_for_feed(database_url)

        assert ids(await follower.follow(database)) == [(b, False), (c, True), (a, True)]
        assert set(follower.copy) == {b}

    run(database_url, scenario)


def test_an_empty_feed_gives_nothing_and_reads_on_from_the_start(database_url: str) -> None:
    owner = new_user()

    async def scenario(database: Database) -> None:
        follower = Follower(owner)
        assert await follower.follow(database) == []
        task = await create(database, owner, "first")
        wait_for_feed(database_url)
        assert ids(await follower.follow(database)) == [(task, False)]

    run(database_url, scenario)


# ---- commits out of order --------------------------------------------------------------------------------


async def _late_write(work: UnitOfWork, kind: str, owner: str, task_id: str) -> str:
    """A write in the open transaction ``work``; the id of the task it changed."""
    if kind == "create":
        created, _ = await tasks.create_task(work, owner, TaskFields("created late"))
        return str(created)
    if kind == "replace":
        # Counts unchanged, so that the user's row of task_counts stays free for the younger write.
        await tasks.update_task(work, owner, uuid.UUID(task_id), TaskFields("replaced late"), is_completed=False)
    else:
        await tasks.delete_task(work, owner, uuid.UUID(task_id))
    return task_id


@pytest.mark.parametrize("kind", ["replace", "delete", "create"])
def test_a_write_committed_after_a_younger_transactions_write_is_still_given(database_url: str, kind: str) -> None:
    """Transaction A writes first and stays open; B writes after it and commits. On PostgreSQL B commits first
    though A is older (its change stands before B's in the feed); on SQLite B waits for A, writes being
    serialised. Either way a read while A is open gives neither write, nor anything that would make a later
    read pass over A's once it commits."""
    owner = new_user()

    async def scenario(database: Database) -> None:
        x, y = await create(database, owner, "x"), await create(database, owner, "y")
        wait_for_feed(database_url)
        follower = Follower(owner)
        copied = await follower.follow(database)

        async with database.unit_of_work() as a:
            await a.execute(BEGIN_TRANSACTION, {})
            late = await _late_write(a, kind, owner, x)
            b = asyncio.create_task(replace(database, owner, y, "y, younger"))
            if a.dialect == "postgresql":
                await b  # committed, while A is still running
            during = await follower.follow(database)
            if a.dialect == "postgresql":
                assert b.done()
        await b
        wait_for_feed(database_url)
        after = await follower.follow(database)

        assert during == []
        assert ids(after) == [(late, kind == "delete"), (y, False)]
        assert follower.copy == await current(database, owner)
        given = [(entry["id"], json.dumps(entry, sort_keys=True)) for entry in copied + during + after]
        assert len(set(given)) == len(given)

    run(database_url, scenario)


def test_a_read_while_an_older_transaction_is_open_holds_back_only_what_follows_it(database_url: str) -> None:
    """What was committed before A began is given at once; what a younger transaction committed while A runs
    waits for A (never given ahead of A's write)."""
    owner = new_user()

    async def scenario(database: Database) -> None:
        x = await create(database, owner, "x")
        wait_for_feed(database_url)
        follower = Follower(owner)
        copied = await follower.follow(database)
        assert ids(copied) == [(x, False)]
        early = await create(database, owner, "committed before A")
        wait_for_feed(database_url)

        async with database.unit_of_work() as a:
            await a.execute(BEGIN_TRANSACTION, {})
            await _late_write(a, "replace", owner, x)
            younger = asyncio.create_task(create(database, owner, "younger than A"))
            if a.dialect == "postgresql":
                await younger
            during = await follower.follow(database)
        y = await younger
        wait_for_feed(database_url)
        after = await follower.follow(database)

        assert ids(during) == [(early, False)]
        assert ids(after) == [(x, False), (y, False)]
        assert follower.copy[x]["title"] == "replaced late"
        assert follower.copy == await current(database, owner)

    run(database_url, scenario)
