"""The Python client (sdk/python, ``tasks_api_client``) against a live server with authentication on, on SQLite
and on PostgreSQL, in both user-id modes: the scenarios the TypeScript client's tests run."""

from __future__ import annotations

import re
import shutil
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from http import HTTPStatus
from pathlib import Path

import httpx
import pytest
from tasks_api_client import AuthenticatedClient
from tasks_api_client.api.health import ready
from tasks_api_client.api.tasks import (
    create_task,
    delete_task,
    get_task,
    get_task_metrics,
    list_task_changes,
    list_tasks,
    toggle_task,
    update_task,
)
from tasks_api_client.models import (
    ListTasksSortBy,
    Priority,
    Problem,
    ProblemErrorCode,
    SortOrder,
    Task,
    TaskChange,
    TaskChanges,
    TaskCreate,
    TaskList,
    TaskMetrics,
    TaskSort,
    TaskUpdate,
)
from tasks_api_client.types import UNSET, Unset

from tasks_api.settings import Settings
from tasks_api.tokens import TokenSettings
from tests import processes
from tests.support import better_auth_id, closed_port, running_app, wait_for_feed
from tests.tokens import SECRET, hs256

NewUser = Callable[[], str]
CLIENT_PROJECT = Path(__file__).resolve().parents[2] / "sdk" / "python"


@pytest.fixture(scope="module", params=["uuid", "opaque"])
def service(request: pytest.FixtureRequest, settings: Settings) -> Iterator[tuple[str, NewUser]]:
    """The service's base URL, in each user-id mode, and where its users' ids come from."""
    configured = replace(settings, tokens=TokenSettings(secret=SECRET), user_ids=request.param)
    new_user: NewUser = better_auth_id if request.param == "opaque" else lambda: str(uuid.uuid4())
    with running_app(configured) as url:
        yield f"{url}/api", new_user


def client_for(base_url: str, user: str, token: str | None = None) -> AuthenticatedClient:
    return AuthenticatedClient(base_url=base_url, token=token if token is not None else hs256(user))


def created(client: AuthenticatedClient, user: str, title: str = "a task") -> tuple[Task, str]:
    response = create_task.sync_detailed(user, client=client, body=TaskCreate(title=title))
    assert response.status_code == HTTPStatus.CREATED
    assert isinstance(response.parsed, Task)
    return response.parsed, response.headers["ETag"]


def problem(response: object, status: HTTPStatus, code: ProblemErrorCode) -> Problem:
    assert getattr(response, "status_code", None) == status
    parsed = getattr(response, "parsed", None)
    assert isinstance(parsed, Problem)
    assert parsed.error_code == code
    return parsed


def test_every_operation(service: tuple[str, NewUser]) -> None:
    base_url, new_user = service
    user = new_user()
    client = client_for(base_url, user)
    task, etag = created(client, user, "Buy milk")
    assert (task.title, task.user_id, task.description) == ("Buy milk", user, None)
    assert etag.startswith('"')

    assert get_task.sync(user, task.id, client=client) == task
    replaced = update_task.sync(user, task.id, client=client, body=TaskUpdate(title="Buy oat milk", is_completed=False))
    assert isinstance(replaced, Task) and replaced.title == "Buy oat milk"
    toggled = toggle_task.sync(user, task.id, client=client)
    assert isinstance(toggled, Task) and toggled.is_completed
    listed = list_tasks.sync(user, client=client, q="oat")
    assert isinstance(listed, TaskList)
    assert [item.id for item in listed.items] == [task.id]
    assert delete_task.sync_detailed(user, task.id, client=client).status_code == HTTPStatus.NO_CONTENT
    problem(get_task.sync_detailed(user, task.id, client=client), HTTPStatus.NOT_FOUND, ProblemErrorCode.NOT_FOUND)
    assert ready.sync(client=client) is not None


def test_priority_tags_due_dates_filters_sorts_and_metrics(service: tuple[str, NewUser]) -> None:
    base_url, new_user = service
    user = new_user()
    client = client_for(base_url, user)
    due = datetime(2026, 12, 24, 17, tzinfo=UTC)
    body = TaskCreate(title="urgent", priority=Priority.HIGH, tags=["Work ", "q1"], due_at=due)
    urgent = create_task.sync(user, client=client, body=body)
    later, _ = created(client, user, "later")

    assert isinstance(urgent, Task)
    assert (urgent.priority, urgent.tags, urgent.due_at) == (Priority.HIGH, ["q1", "work"], due)
    assert (later.priority, later.tags, later.due_at) == (Priority.MEDIUM, [], None)
    by_tag = list_tasks.sync(user, client=client, tags=["WORK"], priority=Priority.HIGH)
    assert isinstance(by_tag, TaskList) and [task.id for task in by_tag.items] == [urgent.id]
    by_due = list_tasks.sync(user, client=client, sort_by=ListTasksSortBy.DUE_AT, sort_order=SortOrder.DESC)
    assert isinstance(by_due, TaskList) and [task.id for task in by_due.items] == [urgent.id, later.id]
    replaced = update_task.sync(user, urgent.id, client=client, body=TaskUpdate(title="calm", is_completed=True))
    assert isinstance(replaced, Task) and (replaced.priority, replaced.tags, replaced.due_at) == (
        Priority.MEDIUM,
        [],
        None,
    )
    metrics = get_task_metrics.sync(user, client=client)
    assert isinstance(metrics, TaskMetrics)
    assert (metrics.total, metrics.completed, metrics.medium_priority, metrics.high_priority) == (2, 1, 2, 0)


def test_a_pagination_walk_follows_next_cursor(service: tuple[str, NewUser]) -> None:
    base_url, new_user = service
    user = new_user()
    client = client_for(base_url, user)
    titles = [created(client, user, f"walk {n}")[0].title for n in range(5)]

    seen: list[str] = []
    cursor: str | Unset = UNSET
    pages = 0
    while True:
        page = list_tasks.sync(user, client=client, sort=TaskSort.TITLE, limit=2, cursor=cursor)
        assert isinstance(page, TaskList)
        seen += [task.title for task in page.items]
        pages += 1
        if page.next_cursor is None:
            break
        cursor = page.next_cursor

    assert seen == titles
    assert pages == 3


def test_a_stale_etag_is_412_and_a_current_one_304(service: tuple[str, NewUser]) -> None:
    base_url, new_user = service
    user = new_user()
    client = client_for(base_url, user)
    task, etag = created(client, user)

    not_modified = get_task.sync_detailed(user, task.id, client=client, if_none_match=etag)
    toggle_task.sync(user, task.id, client=client, if_match=etag)
    stale = update_task.sync_detailed(
        user, task.id, client=client, body=TaskUpdate(title="lost", is_completed=False), if_match=etag
    )

    assert not_modified.status_code == HTTPStatus.NOT_MODIFIED
    assert not_modified.headers["ETag"] == etag
    problem(stale, HTTPStatus.PRECONDITION_FAILED, ProblemErrorCode.PRECONDITION_FAILED)


def test_each_error_code(service: tuple[str, NewUser]) -> None:
    base_url, new_user = service
    alice, bob = new_user(), new_user()
    client = client_for(base_url, alice)

    problem(list_tasks.sync_detailed(alice, client=client_for(base_url, alice, "bad")), HTTPStatus.UNAUTHORIZED,
            ProblemErrorCode.AUTH_FAILED)  # fmt: skip
    problem(list_tasks.sync_detailed(bob, client=client), HTTPStatus.FORBIDDEN, ProblemErrorCode.ACCESS_DENIED)
    problem(toggle_task.sync_detailed(alice, uuid.uuid4(), client=client), HTTPStatus.NOT_FOUND,
            ProblemErrorCode.NOT_FOUND)  # fmt: skip
    blank = problem(
        create_task.sync_detailed(alice, client=client, body=TaskCreate(title="   ")),
        HTTPStatus.UNPROCESSABLE_ENTITY,
        ProblemErrorCode.VALIDATION_ERROR,
    )
    assert [error.field for error in blank.field_errors or []] == ["title"]


def test_a_create_sent_again_with_its_idempotency_key_is_done_once_and_replayed(service: tuple[str, NewUser]) -> None:
    base_url, new_user = service
    user = new_user()
    client = client_for(base_url, user)
    key = str(uuid.uuid4())

    first = create_task.sync_detailed(user, client=client, body=TaskCreate(title="once"), idempotency_key=key)
    again = create_task.sync_detailed(user, client=client, body=TaskCreate(title="once"), idempotency_key=key)
    reused = create_task.sync_detailed(user, client=client, body=TaskCreate(title="another"), idempotency_key=key)

    assert (first.status_code, again.status_code) == (HTTPStatus.CREATED, HTTPStatus.CREATED)
    assert isinstance(first.parsed, Task) and isinstance(again.parsed, Task)
    assert again.parsed.id == first.parsed.id
    assert "Idempotent-Replayed" not in first.headers
    assert again.headers["Idempotent-Replayed"] == "true"
    problem(reused, HTTPStatus.UNPROCESSABLE_ENTITY, ProblemErrorCode.IDEMPOTENCY_KEY_REUSED)
    listed = list_tasks.sync(user, client=client)
    assert isinstance(listed, TaskList) and [task.id for task in listed.items] == [first.parsed.id]


def changes_since(client: AuthenticatedClient, user: str, since: str | Unset = UNSET) -> tuple[list[TaskChange], str]:
    """Every change the feed gives after ``since``, a page of one at a time, and the token to keep."""
    changes: list[TaskChange] = []
    while True:
        page = list_task_changes.sync(user, client=client, since=since, limit=1)
        assert isinstance(page, TaskChanges)
        changes += page.changes
        since = page.next_since
        if not page.has_more:
            return changes, since


def test_the_changes_feed_gives_every_task_then_what_changed_and_what_was_deleted(
    service: tuple[str, NewUser], settings: Settings
) -> None:
    base_url, new_user = service
    user = new_user()
    client = client_for(base_url, user)
    kept, _ = created(client, user, "kept")
    dropped, _ = created(client, user, "dropped")
    # On PostgreSQL the feed shows a write once every transaction older than it has ended, other tests' too.
    wait_for_feed(settings.database_url)

    started, since = changes_since(client, user)
    whole = list_task_changes.sync_detailed(user, client=client)
    etag = whole.headers["ETag"]
    unchanged = list_task_changes.sync_detailed(user, client=client, if_none_match=etag)
    toggled = toggle_task.sync(user, kept.id, client=client)
    assert delete_task.sync_detailed(user, dropped.id, client=client).status_code == HTTPStatus.NO_CONTENT
    wait_for_feed(settings.database_url)
    changed, since = changes_since(client, user, since)
    caught_up, _ = changes_since(client, user, since)
    changed_since_etag = list_task_changes.sync_detailed(user, client=client, if_none_match=etag)

    assert started == [
        TaskChange(id=kept.id, deleted=False, task=kept),
        TaskChange(id=dropped.id, deleted=False, task=dropped),
    ]
    assert isinstance(whole.parsed, TaskChanges) and whole.parsed.changes == started
    assert (unchanged.status_code, unchanged.headers["ETag"]) == (HTTPStatus.NOT_MODIFIED, etag)
    assert isinstance(toggled, Task) and toggled.is_completed
    assert [(change.id, change.deleted) for change in changed] == [(kept.id, False), (dropped.id, True)]
    assert changed[0].task == toggled
    deletion = changed[1]
    assert isinstance(deletion.task, Unset)
    assert isinstance(deletion.deleted_at, datetime) and deletion.deleted_at >= dropped.created_at
    assert caught_up == []
    assert changed_since_etag.status_code == HTTPStatus.OK
    assert isinstance(changed_since_etag.parsed, TaskChanges)
    assert changed_since_etag.parsed.changes == [TaskChange(id=kept.id, deleted=False, task=toggled)]


@pytest.mark.parametrize("form", ["{root}", "{root}/", "{origin}", "{origin}/"])
def test_the_api_root_with_or_without_a_slash_and_the_origin_reach_the_service(
    service: tuple[str, NewUser], form: str
) -> None:
    root, new_user = service
    user = new_user()
    client = client_for(form.format(root=root, origin=root.removesuffix("/api")), user)

    assert isinstance(list_tasks.sync(user, client=client), TaskList)


ROOT = "http://127.0.0.1:8000/api"


@pytest.mark.parametrize(
    ("base_url", "message"),
    [
        ("", "base_url is required: the API root, e.g. http://127.0.0.1:8000/api"),
        ("127.0.0.1:8000/api", "'127.0.0.1:8000/api' is not an absolute URL; pass the API root, e.g. http"),
        ("ftp://127.0.0.1/api", "'ftp://127.0.0.1/api' is not an http or https URL"),
        (f"{ROOT}?user=1", f"'{ROOT}' must not carry a query or a fragment"),
        (f"{ROOT}/#tasks", f"'{ROOT}' must not carry a query or a fragment"),
        (f"{ROOT}/{uuid.UUID(int=7)}/tasks", f"names a path under the API root; pass the API root itself, '{ROOT}'"),
        (f"{ROOT}/health/ready/", f"names a path under the API root; pass the API root itself, '{ROOT}'"),
        ("http://alice:hunter2@127.0.0.1:8000/api", "must not carry a user name or password"),
    ],
)
def test_a_base_url_that_cannot_be_right_is_refused_at_once(base_url: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)) as refused:
        AuthenticatedClient(base_url=base_url, token="a token")

    assert "hunter2" not in str(refused.value)


def test_the_service_says_what_is_wrong_with_the_token(service: tuple[str, NewUser]) -> None:
    base_url, new_user = service
    user = new_user()

    for token, detail in [("", "A bearer token is required"), ("bad", "The token is not a well-formed JWT")]:
        response = list_tasks.sync_detailed(user, client=client_for(base_url, user, token))
        assert problem(response, HTTPStatus.UNAUTHORIZED, ProblemErrorCode.AUTH_FAILED).detail == detail


def test_a_stopped_server_is_a_connection_error() -> None:
    user = str(uuid.uuid4())
    client = client_for(f"http://127.0.0.1:{closed_port()}/api", user)

    with pytest.raises(httpx.ConnectError):
        list_tasks.sync_detailed(user, client=client)


def test_the_client_builds_without_a_warning(tmp_path: Path) -> None:
    # `uv sync` and `uv run` build it: a warning here is one every newcomer sees.
    uv = shutil.which("uv")
    assert uv is not None, "uv is not on PATH"
    built = processes.run(
        [uv, "build", "--wheel", "--out-dir", str(tmp_path), str(CLIENT_PROJECT)],
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert built.returncode == 0, built.stderr
    assert "warning" not in built.stderr.lower(), built.stderr
    assert [wheel.name for wheel in tmp_path.glob("*.whl")] == ["tasks_api_client-1.0.0-py3-none-any.whl"]
