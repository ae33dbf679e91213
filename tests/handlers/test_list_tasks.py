"""GET /api/{user_id}/tasks: filters, search, sorts, cursor pagination; on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.support import Task, create_task, new_user

SORTS = ["-created_at", "created_at", "title", "-title", "updated_at", "-updated_at"]


def toggle(client: TestClient, user: str, task: Task) -> Task:
    toggled: Task = client.patch(f"/api/{user}/tasks/{task['id']}/complete").json()
    return toggled


def listing(client: TestClient, user: str, **params: Any) -> dict[str, Any]:
    response = client.get(f"/api/{user}/tasks", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def walk(client: TestClient, user: str, between_pages: Callable[[], None] = lambda: None, **params: Any) -> list[Task]:
    """Every page of a list, following next_cursor; ``between_pages`` runs after each page."""
    items: list[Task] = []
    page = listing(client, user, **params)
    while True:
        items += page["items"]
        between_pages()
        if page["next_cursor"] is None:
            return items
        page = listing(client, user, **params, cursor=page["next_cursor"])


def expected_order(tasks: list[Task], sort: str) -> list[str]:
    key = sort.removeprefix("-")
    ordered = sorted(tasks, key=lambda task: (task[key], task["id"]), reverse=sort.startswith("-"))
    return [task["id"] for task in ordered]


@pytest.fixture(scope="module")
def seeded(client: TestClient) -> tuple[str, list[Task]]:
    """A user with 23 tasks: repeated titles (so ties need the id), some completed, some updated later."""
    user = new_user()
    titles = ["banana", "Apple", "cherry", "apple", "banana", "Éclair", "date", "elder", "fig", "banana", "grape"]
    tasks = [create_task(client, user, titles[n % len(titles)], description=f"note {n}") for n in range(23)]
    for index in (1, 4, 9, 16):
        tasks[index] = toggle(client, user, tasks[index])
    return user, tasks


def test_no_parameters_lists_everything_newest_first(client: TestClient, seeded: tuple[str, list[Task]]) -> None:
    user, tasks = seeded

    body = listing(client, user)

    assert [task["id"] for task in body["items"]] == expected_order(tasks, "-created_at")
    assert body["count"] == 23
    assert body["next_cursor"] is None
    assert body["items"] == sorted(tasks, key=lambda task: (task["created_at"], task["id"]), reverse=True)


@pytest.mark.parametrize("sort", SORTS)
def test_each_sort_orders_by_its_key_then_id(client: TestClient, seeded: tuple[str, list[Task]], sort: str) -> None:
    user, tasks = seeded

    body = listing(client, user, sort=sort)

    assert [task["id"] for task in body["items"]] == expected_order(tasks, sort)
    assert body["count"] == 23


@pytest.mark.parametrize("sort", SORTS)
@pytest.mark.parametrize("limit", [1, 4, 23, 1000])
def test_walking_every_page_equals_the_unpaged_list(
    client: TestClient, seeded: tuple[str, list[Task]], sort: str, limit: int
) -> None:
    user, _ = seeded

    assert walk(client, user, sort=sort, limit=limit) == listing(client, user, sort=sort)["items"]


def test_pages_have_limit_items_and_the_total_count(client: TestClient, seeded: tuple[str, list[Task]]) -> None:
    user, _ = seeded

    first = listing(client, user, limit=10)
    second = listing(client, user, limit=10, cursor=first["next_cursor"])
    third = listing(client, user, limit=10, cursor=second["next_cursor"])

    assert [len(page["items"]) for page in (first, second, third)] == [10, 10, 3]
    assert [page["count"] for page in (first, second, third)] == [23, 23, 23]
    assert third["next_cursor"] is None


def test_a_list_that_fills_the_page_exactly_has_no_next_cursor(client: TestClient) -> None:
    user = new_user()
    for n in range(3):
        create_task(client, user, f"t{n}")

    assert listing(client, user, limit=3)["next_cursor"] is None


@pytest.mark.parametrize("completed", [True, False])
def test_completed_filter(client: TestClient, seeded: tuple[str, list[Task]], completed: bool) -> None:
    user, tasks = seeded
    matching = [task for task in tasks if task["is_completed"] is completed]

    body = listing(client, user, completed=str(completed).lower())

    assert [task["id"] for task in body["items"]] == expected_order(matching, "-created_at")
    assert body["count"] == len(matching) == (4 if completed else 19)


def test_search_is_a_case_insensitive_substring_of_title_or_description(client: TestClient) -> None:
    user = new_user()
    milk = create_task(client, user, "Buy MILK")
    note = create_task(client, user, "Groceries", description="oat milk, two litres")
    create_task(client, user, "Call the bank")
    ecole = create_task(client, user, "École pickup")

    assert {task["id"] for task in listing(client, user, q="milk")["items"]} == {milk["id"], note["id"]}
    assert listing(client, user, q="milk")["count"] == 2
    assert [task["id"] for task in listing(client, user, q="éCOLE")["items"]] == [ecole["id"]]
    assert listing(client, user, q="nothing like this") == {"items": [], "count": 0, "next_cursor": None}


@pytest.mark.parametrize(
    ("query", "expected_titles"),
    [
        ("%", {"50% off"}),
        ("_", {"snake_case"}),
        ("\\", {"back\\slash"}),
        ("/", {"a/b"}),
        ("0%", {"50% off"}),
        ("5%", set()),
        ("e_c", {"snake_case"}),
        ("_%", set()),
    ],
)
def test_search_treats_pattern_characters_literally(client: TestClient, query: str, expected_titles: set[str]) -> None:
    user = new_user()
    for title in ["50% off", "5000 of", "snake_case", "snakeXcase", "back\\slash", "backslash", "a/b"]:
        create_task(client, user, title)

    titles = {task["title"] for task in listing(client, user, q=query)["items"]}

    assert titles == expected_titles


def test_filters_search_sort_and_pages_combine(client: TestClient) -> None:
    user = new_user()
    tasks = [create_task(client, user, f"{'report' if n % 2 else 'errand'} {n:02}") for n in range(20)]
    for task in tasks[:10]:
        toggle(client, user, task)
    matching = [task for task in tasks[:10] if task["title"].startswith("report")]

    items = walk(client, user, completed="true", q="REPORT", sort="-title", limit=2)

    assert [task["title"] for task in items] == sorted((task["title"] for task in matching), reverse=True)
    assert listing(client, user, completed="true", q="REPORT", limit=2)["count"] == len(matching) == 5


def test_count_follows_every_kind_of_write(client: TestClient) -> None:
    user = new_user()
    tasks = [create_task(client, user, f"t{n}") for n in range(6)]
    toggle(client, user, tasks[0])
    toggle(client, user, tasks[1])
    client.put(f"/api/{user}/tasks/{tasks[2]['id']}", json={"title": "done by PUT", "is_completed": True})
    client.put(f"/api/{user}/tasks/{tasks[1]['id']}", json={"title": "reopened by PUT", "is_completed": False})
    client.delete(f"/api/{user}/tasks/{tasks[0]['id']}")
    client.delete(f"/api/{user}/tasks/{tasks[3]['id']}")

    assert listing(client, user)["count"] == 4
    assert listing(client, user, completed="true")["count"] == 1
    assert listing(client, user, completed="false")["count"] == 3


@pytest.mark.parametrize("sort", SORTS)
def test_writes_during_a_walk_never_repeat_or_skip_a_task(client: TestClient, sort: str) -> None:
    user = new_user()
    tasks = [create_task(client, user, f"task {n % 7}") for n in range(30)]
    doomed = iter(tasks[::3])
    deleted: set[str] = set()
    added = 0

    def meddle() -> None:
        nonlocal added
        for _ in range(2):
            create_task(client, user, f"task {added % 7} (new)")
            added += 1
        victim = next(doomed, None)
        if victim is not None:
            client.delete(f"/api/{user}/tasks/{victim['id']}")
            deleted.add(victim["id"])

    seen = [task["id"] for task in walk(client, user, between_pages=meddle, sort=sort, limit=4)]

    assert len(seen) == len(set(seen))
    survivors = {task["id"] for task in tasks} - deleted
    assert survivors <= set(seen)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "1001"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"limit": "1.5"}, "limit"),
        ({"completed": "maybe"}, "completed"),
        ({"sort": "rank"}, "sort"),
        ({"sort": "created_at,title"}, "sort"),
        ({"q": ""}, "q"),
        ({"q": "x" * 201}, "q"),
        ({"q": "a\u0000"}, "q"),
        ({"cursor": ""}, "cursor"),
        ({"cursor": "not a cursor"}, "cursor"),
        ({"cursor": "abc.def"}, "cursor"),
        ({"page": "0"}, "page"),
        ({"page_size": "201"}, "page_size"),
        ({"status": "done"}, "status"),
        ({"priority": "high"}, "priority"),
        ({"sort_by": "-title"}, "sort_by"),
        ({"sort_order": "up"}, "sort_order"),
        ({"tags": " "}, "tags.0"),
        ({"tags": ["a", "x" * 51]}, "tags.1"),
        ({"offset": "10"}, "offset"),
    ],
)
def test_bad_parameters_are_400_naming_the_field(client: TestClient, params: dict[str, str], field: str) -> None:
    response = client.get(f"/api/{new_user()}/tasks", params=params)

    assert response.status_code == 400, response.text
    problem = response.json()
    assert problem["error_code"] == "VALIDATION_ERROR"
    assert field in {error["field"] for error in problem["field_errors"]}


def test_parameters_at_their_bounds_are_accepted(client: TestClient) -> None:
    user = new_user()
    create_task(client, user, "x" * 200)

    assert listing(client, user, limit=1, q="x" * 200)["count"] == 1
    assert listing(client, user, limit=1000)["count"] == 1


def _cursor_problem(client: TestClient, user: str, cursor: str, **params: Any) -> dict[str, Any]:
    response = client.get(f"/api/{user}/tasks", params={**params, "cursor": cursor})
    assert response.status_code == 400, response.text
    problem: dict[str, Any] = response.json()
    assert problem["error_code"] == "VALIDATION_ERROR"
    assert [error["field"] for error in problem["field_errors"]] == ["cursor"]
    return problem


def _next_cursor(client: TestClient, user: str, **params: Any) -> str:
    cursor: str = listing(client, user, limit=1, **params)["next_cursor"]
    assert cursor
    return cursor


def test_a_forged_cursor_is_400(client: TestClient, seeded: tuple[str, list[Task]]) -> None:
    user, tasks = seeded
    payload, mac = _next_cursor(client, user).split(".")
    forged_position = base64.urlsafe_b64encode(f'["1970-01-01T00:00:00.000000Z","{tasks[0]["id"]}"]'.encode())
    forged_payload = forged_position.decode().rstrip("=")

    _cursor_problem(client, user, f"{forged_payload}.{mac}")
    _cursor_problem(client, user, f"{payload}.{mac[:-2]}AA")
    _cursor_problem(client, user, f"{payload[:-4]}.{mac}")
    _cursor_problem(client, user, f"{payload}")


def test_a_cursor_only_works_for_the_list_it_came_from(client: TestClient, seeded: tuple[str, list[Task]]) -> None:
    user, _ = seeded
    cursor = _next_cursor(client, user, sort="title")

    assert listing(client, user, limit=1, sort="title", cursor=cursor)["items"]
    _cursor_problem(client, user, cursor, sort="-title", limit=1)
    _cursor_problem(client, user, cursor, limit=1)
    _cursor_problem(client, user, cursor, sort="title", completed="false")
    _cursor_problem(client, user, cursor, sort="title", q="a")
    _cursor_problem(client, new_user(), cursor, sort="title")
    # Only the page size may change between pages.
    assert len(listing(client, user, limit=5, sort="title", cursor=cursor)["items"]) == 5
