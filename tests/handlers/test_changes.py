"""GET /api/{user_id}/tasks/changes, the changes feed, through the app on both databases: a first read gives every
current task, later reads what changed since their token, each task once in its latest state or as its deletion;
pages by ``limit``; tokens only of this service, for this user and not too old; ETag and If-None-Match."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import bindparam, update
from starlette.testclient import TestClient

import sync.tokens
from db.backends import open_database
from db.models import TaskTombstone
from sync.retention import purge_expired
from sync.tokens import SECONDS_PER_DAY
from tasks_api.app import create_app
from tasks_api.settings import Settings
from tests.support import assert_problem, create_task, new_user, wait_for_feed

Change = dict[str, Any]


def feed(user: str) -> str:
    return f"/api/{user}/tasks/changes"


def read(client: TestClient, user: str, since: str | None = None, **params: Any) -> Any:
    response = client.get(feed(user), params={**params, **({} if since is None else {"since": since})})
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "private, no-cache"
    return response


def follow(client: TestClient, user: str, since: str | None = None, limit: int = 1000) -> tuple[list[Change], str]:
    """Every change after ``since``, following ``next_since`` while ``has_more``; and the last ``next_since``."""
    followed: list[Change] = []
    while True:
        body = read(client, user, since, limit=limit).json()
        followed += body["changes"]
        since = body["next_since"]
        if not body["has_more"]:
            return followed, since


def ids(changes: list[Change]) -> list[tuple[str, bool]]:
    return [(change["id"], change["deleted"]) for change in changes]


def test_a_first_read_gives_every_current_task_in_its_latest_state_and_no_deletion(
    client: TestClient, settings: Settings
) -> None:
    user = new_user()
    kept, changed, removed = (create_task(client, user, title)["id"] for title in ("kept", "changed", "removed"))
    client.patch(f"/api/{user}/tasks/{changed}/complete")
    client.put(f"/api/{user}/tasks/{changed}", json={"title": "changed again", "is_completed": True})
    client.delete(f"/api/{user}/tasks/{removed}")
    wait_for_feed(settings.database_url)

    response = read(client, user)

    body = response.json()
    assert body["has_more"] is False
    assert response.headers["etag"].startswith('"')
    assert sorted(ids(body["changes"])) == sorted([(kept, False), (changed, False)])
    for change in body["changes"]:
        assert change["task"] == client.get(f"/api/{user}/tasks/{change['id']}").json()


def test_reads_since_a_token_give_each_change_once_oldest_first_and_deletions(
    client: TestClient, settings: Settings
) -> None:
    user = new_user()
    a, b, _unchanged = (create_task(client, user, title)["id"] for title in "abc")
    wait_for_feed(settings.database_url)
    _, since = follow(client, user)
    before = datetime.now(UTC)

    client.patch(f"/api/{user}/tasks/{a}/complete")
    client.delete(f"/api/{user}/tasks/{b}")
    client.put(f"/api/{user}/tasks/{a}", json={"title": "a again", "is_completed": False})
    client.patch(f"/api/{user}/tasks/{a}/complete")
    d = create_task(client, user, "d")["id"]
    wait_for_feed(settings.database_url)
    changes, since = follow(client, user, since)

    assert ids(changes) == [(b, True), (a, False), (d, False)]
    assert set(changes[0]) == {"id", "deleted", "deleted_at"}
    # By the database's clock, which may be a little apart from the tests'.
    deleted_at = datetime.fromisoformat(changes[0]["deleted_at"])
    assert before - timedelta(minutes=1) <= deleted_at <= datetime.now(UTC) + timedelta(minutes=1)
    assert changes[1]["task"] == client.get(f"/api/{user}/tasks/{a}").json()
    assert changes[1]["task"]["title"] == "a again" and changes[1]["task"]["is_completed"] is True
    # c did not change; nothing is given twice.
    assert follow(client, user, since)[0] == []


def test_a_deletion_made_before_the_copy_began_is_never_given(client: TestClient, settings: Settings) -> None:
    user = new_user()
    gone, kept = create_task(client, user, "gone")["id"], create_task(client, user, "kept")["id"]
    client.delete(f"/api/{user}/tasks/{gone}")
    wait_for_feed(settings.database_url)
    copied, since = follow(client, user, limit=1)

    client.patch(f"/api/{user}/tasks/{kept}/complete")
    wait_for_feed(settings.database_url)

    assert ids(copied) == [(kept, False)]
    assert ids(follow(client, user, since)[0]) == [(kept, False)]


@pytest.mark.parametrize("limit", [1, 2, 5])
def test_pages_of_limit_changes_say_whether_more_follow_and_miss_nothing(
    client: TestClient, settings: Settings, limit: int
) -> None:
    user = new_user()
    created = [create_task(client, user, f"task {n}")["id"] for n in range(5)]
    wait_for_feed(settings.database_url)

    pages: list[dict[str, Any]] = []
    since = None
    while not pages or pages[-1]["has_more"]:
        body = read(client, user, since, limit=limit).json()
        pages.append(body)
        since = body["next_since"]

    assert [len(page["changes"]) for page in pages[:-1]] == [limit] * (len(pages) - 1)
    assert len(pages) == -(-len(created) // limit)
    assert [change["id"] for page in pages for change in page["changes"]] == created


@pytest.mark.parametrize("limit", ["0", "1001", "many"])
def test_a_limit_outside_1_to_1000_is_400(client: TestClient, limit: str) -> None:
    assert_problem(client.get(feed(new_user()), params={"limit": limit}), 400)


# ---- tokens ----------------------------------------------------------------------------------------------


def _token(client: TestClient, user: str) -> str:
    token: str = read(client, user).json()["next_since"]
    return token


@pytest.mark.parametrize(
    "forge",
    [
        lambda token: token[:-2] + ("AA" if not token.endswith("AA") else "BB"),
        lambda token: "A" + token[1:] if token[0] != "A" else "B" + token[1:],
        lambda token: "bm90LWEtdG9rZW4.c2lnbmF0dXJl",
    ],
    ids=["signature", "payload", "made-up"],
)
def test_a_forged_token_is_400(client: TestClient, forge: Any) -> None:
    user = new_user()
    create_task(client, user)

    problem = assert_problem(client.get(feed(user), params={"since": forge(_token(client, user))}), 400)

    assert problem["field_errors"][0]["field"] == "since"


def test_another_users_token_is_400(client: TestClient) -> None:
    owner, other = new_user(), new_user()
    create_task(client, owner)

    assert_problem(client.get(feed(other), params={"since": _token(client, owner)}), 400)


def test_a_list_cursor_is_not_a_sync_token(client: TestClient) -> None:
    user = new_user()
    create_task(client, user)
    create_task(client, user)
    cursor = client.get(f"/api/{user}/tasks", params={"limit": 1}).json()["next_cursor"]

    assert_problem(client.get(feed(user), params={"since": cursor}), 400)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[SimpleNamespace]:
    """The clock sync tokens are issued and checked by; it keeps real time until a test sets ``now``."""
    fake = SimpleNamespace(now=None)
    monkeypatch.setattr(sync.tokens, "time", SimpleNamespace(time=lambda: fake.now or time.time()))
    yield fake


def test_a_token_issued_longer_ago_than_deletions_are_kept_is_410_sync_expired(
    client: TestClient, settings: Settings, clock: SimpleNamespace
) -> None:
    user = new_user()
    create_task(client, user)
    keep = settings.tombstone_days * SECONDS_PER_DAY

    clock.now = time.time() - keep - 60
    expired = _token(client, user)
    clock.now = time.time() - keep + 60
    still_good = _token(client, user)
    clock.now = None

    assert_problem(client.get(feed(user), params={"since": expired}), 410, "SYNC_EXPIRED")
    assert read(client, user, still_good).json()["changes"] == []


def test_a_token_polled_while_good_is_410_once_it_expires(
    client: TestClient, settings: Settings, clock: SimpleNamespace
) -> None:
    user = new_user()
    create_task(client, user)
    issued = time.time()
    clock.now = issued
    token = _token(client, user)
    assert read(client, user, token).json()["changes"] == []

    clock.now = issued + settings.tombstone_days * SECONDS_PER_DAY + 60

    assert_problem(client.get(feed(user), params={"since": token}), 410, "SYNC_EXPIRED")


def test_an_app_keeping_deletions_for_less_time_refuses_tokens_sooner(
    settings: Settings, clock: SimpleNamespace
) -> None:
    user = new_user()
    with create_app(replace(settings, tombstone_days=1.0)).test_client() as client:
        create_task(client, user)
        clock.now = time.time() - SECONDS_PER_DAY - 60
        expired = _token(client, user)
        clock.now = None

        assert_problem(client.get(feed(user), params={"since": expired}), 410, "SYNC_EXPIRED")


def test_a_token_given_while_more_follow_is_as_old_as_the_copy_it_continues(
    client: TestClient, settings: Settings, clock: SimpleNamespace
) -> None:
    """A client last up to date at X reads one page of what changed since, shortly before its token expires,
    and stops there. The deletions still ahead of it were made after X, and are purged once X is older than
    deletions are kept: the token it was given must not outlive them, or the client misses a deletion."""
    user = new_user()
    kept, removed = create_task(client, user, "kept")["id"], create_task(client, user, "removed")["id"]
    wait_for_feed(settings.database_url)
    keep = timedelta(days=settings.tombstone_days)
    up_to_date_at = datetime.now(UTC) - keep - timedelta(hours=3)
    clock.now = up_to_date_at.timestamp()
    _, since = follow(client, user)
    clock.now = None

    client.put(f"/api/{user}/tasks/{kept}", json={"title": "kept, changed", "is_completed": False})
    client.delete(f"/api/{user}/tasks/{removed}")
    wait_for_feed(settings.database_url)
    _backdate_deletion(settings.database_url, removed, up_to_date_at + timedelta(seconds=1))

    # A minute before the token expires, one page: the change, not yet the deletion.
    clock.now = (up_to_date_at + keep - timedelta(minutes=1)).timestamp()
    page = read(client, user, since, limit=1).json()
    clock.now = None
    assert (ids(page["changes"]), page["has_more"]) == ([(kept, False)], True)

    # Now: the deletion is past keeping and purged.
    asyncio.run(_purge(settings.database_url, keep))
    response = client.get(feed(user), params={"since": page["next_since"]})

    # The copy must start again, or be told of the deletion: anything else leaves it holding a deleted task.
    if response.status_code != 410:
        assert (removed, True) in ids(follow(client, user, page["next_since"])[0]), "a deletion was missed"


def _backdate_deletion(database_url: str, task_id: str, deleted_at: datetime) -> None:
    statement = (
        update(TaskTombstone).where(TaskTombstone.task_id == bindparam("task")).values(deleted_at=bindparam("at"))
    )

    async def backdate() -> None:
        database = open_database(database_url)
        await database.open()
        try:
            async with database.unit_of_work() as work:
                assert await work.execute(statement, {"task": uuid.UUID(task_id), "at": deleted_at}, alone=True) == 1
        finally:
            await database.dispose()

    asyncio.run(backdate())


async def _purge(database_url: str, deletions_kept: timedelta) -> None:
    database = open_database(database_url)
    await database.open()
    try:
        await purge_expired(database, timedelta(days=1), deletions_kept)
    finally:
        await database.dispose()


# ---- ETag and If-None-Match ------------------------------------------------------------------------------


def test_if_none_match_is_304_while_nothing_changed_and_200_after_a_change(
    client: TestClient, settings: Settings, clock: SimpleNamespace
) -> None:
    # One moment throughout: an ETag also changes with the day.
    clock.now = time.time()
    user = new_user()
    task = create_task(client, user)
    wait_for_feed(settings.database_url)
    _, since = follow(client, user)
    quiet = read(client, user, since)
    tag, since = quiet.headers["etag"], quiet.json()["next_since"]

    unchanged = client.get(feed(user), params={"since": since}, headers={"If-None-Match": tag})

    assert unchanged.status_code == 304
    assert unchanged.headers["etag"] == tag
    assert unchanged.content == b""

    client.patch(f"/api/{user}/tasks/{task['id']}/complete")
    wait_for_feed(settings.database_url)
    changed = client.get(feed(user), params={"since": since}, headers={"If-None-Match": tag})

    assert changed.status_code == 200
    assert changed.headers["etag"] != tag
    assert ids(changed.json()["changes"]) == [(task["id"], False)]
    assert changed.json()["changes"][0]["task"]["is_completed"] is True


@pytest.mark.parametrize("limit", [2, 1000])
def test_a_first_read_polled_with_if_none_match_is_304_until_the_users_own_tasks_change(
    client: TestClient, settings: Settings, clock: SimpleNamespace, limit: int
) -> None:
    """Other users' writes (which move the feed's horizon: SQLite's count of writes, PostgreSQL's transaction
    ids) change nothing of this user's first read; a deletion in the middle of it, which moves neither its end
    nor whether more follow, does."""
    clock.now = time.time()
    user = new_user()
    a, b, c, d = (create_task(client, user, title)["id"] for title in "abcd")
    wait_for_feed(settings.database_url)
    tag = read(client, user, limit=limit).headers["etag"]

    create_task(client, new_user(), "someone else's")
    wait_for_feed(settings.database_url)
    unchanged = client.get(feed(user), params={"limit": limit}, headers={"If-None-Match": tag})

    assert unchanged.status_code == 304
    assert unchanged.headers["etag"] == tag

    client.delete(f"/api/{user}/tasks/{b}")
    wait_for_feed(settings.database_url)
    changed = client.get(feed(user), params={"limit": limit}, headers={"If-None-Match": tag})

    assert changed.status_code == 200
    assert ids(changed.json()["changes"]) == [(a, False), (c, False), (d, False)][:limit]


def test_if_none_match_with_another_answers_etag_is_200(client: TestClient, settings: Settings) -> None:
    user = new_user()
    create_task(client, user)
    wait_for_feed(settings.database_url)
    first = read(client, user)
    since = first.json()["next_since"]

    response = client.get(feed(user), params={"since": since}, headers={"If-None-Match": first.headers["etag"]})

    # The first answer held the task; this one holds nothing.
    assert response.status_code == 200
    assert response.json()["changes"] == []


# ---- a deleted task --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("GET", "", None),
        ("PUT", "", {"title": "back?", "is_completed": False}),
        ("PATCH", "/complete", None),
        ("DELETE", "", None),
    ],
)
def test_a_deleted_task_stays_404_though_the_feed_keeps_its_deletion(
    client: TestClient, settings: Settings, method: str, suffix: str, body: Any
) -> None:
    user = new_user()
    task_id = create_task(client, user)["id"]
    wait_for_feed(settings.database_url)
    _, since = follow(client, user)
    assert client.delete(f"/api/{user}/tasks/{task_id}").status_code == 204

    assert_problem(client.request(method, f"/api/{user}/tasks/{task_id}{suffix}", json=body), 404, "NOT_FOUND")
    wait_for_feed(settings.database_url)
    assert ids(follow(client, user, since)[0]) == [(task_id, True)]
