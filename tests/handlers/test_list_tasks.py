"""GET /api/{user_id}/tasks: filters, search, sorts, cursor pagination; on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.support import SORTS, Task, assert_problem, create_task, expected_order, new_user


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


def varied(n: int) -> dict[str, Any]:
    """A priority, tags and due date for the nth task: every kind, with ties."""
    due = None if n % 3 == 0 else f"2027-0{1 + n % 4}-01T09:00:00+01:00"
    return {"priority": ("High", "Medium", "Low", "Medium")[n % 4], "tags": ["all", f"m{n % 2}"], "due_at": due}


@pytest.fixture(scope="module")
def seeded(client: TestClient) -> tuple[str, list[Task]]:
    """A user with 23 tasks: repeated titles, priorities and due dates (so ties need the id), some completed,
    some updated later."""
    user = new_user()
    titles = ["banana", "Apple", "cherry", "apple", "banana", "Éclair", "date", "elder", "fig", "banana", "grape"]
    tasks = [
        create_task(client, user, titles[n % len(titles)], description=f"note {n}", **varied(n)) for n in range(23)
    ]
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
    tasks = [create_task(client, user, f"task {n % 7}", **varied(n)) for n in range(30)]
    doomed = iter(tasks[::3])
    deleted: set[str] = set()
    added = 0

    def meddle() -> None:
        nonlocal added
        for _ in range(2):
            create_task(client, user, f"task {added % 7} (new)", **varied(added))
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


# ---- priority and tags ------------------------------------------------------------------------------------


@pytest.mark.parametrize("priority", ["High", "Medium", "Low"])
def test_priority_filter(client: TestClient, seeded: tuple[str, list[Task]], priority: str) -> None:
    user, tasks = seeded
    matching = [task for task in tasks if task["priority"] == priority]

    body = listing(client, user, priority=priority)

    assert [task["id"] for task in body["items"]] == expected_order(matching, "-created_at")
    assert body["count"] == len(matching) > 0


def test_tag_filter_takes_tasks_carrying_every_tag_in_any_case(client: TestClient) -> None:
    user, stranger = new_user(), new_user()
    both = create_task(client, user, "both", tags=["Work", "urgent"])
    work = create_task(client, user, "work", tags=["work"])
    create_task(client, user, "none")
    create_task(client, stranger, "theirs", tags=["work", "urgent"])

    assert [task["id"] for task in listing(client, user, tags=[" WORK "])["items"]] == [work["id"], both["id"]]
    assert [task["id"] for task in listing(client, user, tags=["work", "Urgent"])["items"]] == [both["id"]]
    assert listing(client, user, tags=["work", "work"])["count"] == 2
    assert listing(client, user, tags=["work", "urgent", "later"]) == {"items": [], "count": 0, "next_cursor": None}


def test_tag_filter_follows_every_write(client: TestClient) -> None:
    user = new_user()
    first = create_task(client, user, "first", tags=["a"])
    second = create_task(client, user, "second", tags=["a", "b"])

    client.put(f"/api/{user}/tasks/{first['id']}", json={"title": "first", "is_completed": False, "tags": ["b"]})
    client.delete(f"/api/{user}/tasks/{second['id']}")
    client.patch(f"/api/{user}/tasks/{first['id']}/complete")

    assert listing(client, user, tags=["a"])["count"] == 0
    assert [task["id"] for task in listing(client, user, tags=["b"])["items"]] == [first["id"]]
    assert listing(client, user, tags=["b"], completed="true")["count"] == 1


# The default order walks task_tags itself; the others check each task of their own index.
@pytest.mark.parametrize("sort", ["-created_at", "created_at", "-due_at"])
def test_filters_combine_with_tags(client: TestClient, seeded: tuple[str, list[Task]], sort: str) -> None:
    user, tasks = seeded
    matching = [task for task in tasks if "m1" in task["tags"] and task["priority"] == "Medium"]
    matching = [task for task in matching if not task["is_completed"]]

    items = walk(client, user, tags=["m1", "all"], priority="Medium", completed="false", sort=sort, limit=2)

    assert [task["id"] for task in items] == expected_order(matching, sort)
    assert listing(client, user, tags=["m1", "all"], priority="Medium", completed="false")["count"] == len(matching)


def test_a_cursor_only_works_with_the_same_priority_and_tags(
    client: TestClient, seeded: tuple[str, list[Task]]
) -> None:
    user, _ = seeded
    cursor = _next_cursor(client, user, tags=["all"], priority="Medium")

    assert listing(client, user, limit=1, tags=["ALL "], priority="Medium", cursor=cursor)["items"]
    _cursor_problem(client, user, cursor, tags=["all"], limit=1)
    _cursor_problem(client, user, cursor, priority="Medium", limit=1)
    _cursor_problem(client, user, cursor, tags=["all", "m1"], priority="Medium", limit=1)


# ---- the front end's spellings ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("theirs", "ours"),
    [
        ({"status": "pending"}, {"completed": "false"}),
        ({"status": "completed"}, {"completed": "true"}),
        ({"search": "BANANA"}, {"q": "BANANA"}),
        ({"sort_by": "title"}, {"sort": "-title"}),
        ({"sort_by": "priority", "sort_order": "asc"}, {"sort": "priority"}),
        ({"sort_by": "due_at", "sort_order": "desc"}, {"sort": "-due_at"}),
        ({"sort_order": "asc"}, {"sort": "created_at"}),
        ({"sort_order": "desc"}, {}),
    ],
)
def test_the_front_ends_spellings_list_what_ours_list(
    client: TestClient, seeded: tuple[str, list[Task]], theirs: dict[str, str], ours: dict[str, str]
) -> None:
    user, _ = seeded

    assert listing(client, user, **theirs) == listing(client, user, **ours)
    assert walk(client, user, lambda: None, limit=3, **theirs) == listing(client, user, **ours)["items"]


@pytest.mark.parametrize(
    ("params", "clashing"),
    [
        ({"completed": "true", "status": "pending"}, {"completed", "status"}),
        ({"q": "a", "search": "a"}, {"q", "search"}),
        ({"sort": "title", "sort_by": "title"}, {"sort", "sort_by"}),
        ({"sort": "title", "sort_order": "asc"}, {"sort", "sort_order"}),
        ({"cursor": "abc.def", "page": "1"}, {"cursor", "page"}),
        ({"cursor": "abc.def", "page_size": "10"}, {"cursor", "page_size"}),
    ],
)
def test_two_spellings_of_one_thing_are_400_naming_both(
    client: TestClient, params: dict[str, str], clashing: set[str]
) -> None:
    problem = assert_problem(client.get(f"/api/{new_user()}/tasks", params=params), 400, "VALIDATION_ERROR")

    assert {error["field"] for error in problem["field_errors"]} == clashing
    assert all(f"'{name}'" in problem["detail"] for name in clashing)


# ---- pages by number --------------------------------------------------------------------------------------


@pytest.mark.parametrize("sort", ["-created_at", "title", "priority", "-due_at"])
def test_pages_by_number_are_slices_of_the_whole_list(
    client: TestClient, seeded: tuple[str, list[Task]], sort: str
) -> None:
    user, tasks = seeded
    everything = listing(client, user, sort=sort)["items"]

    pages = [listing(client, user, sort=sort, page=page, page_size=5) for page in range(1, 7)]

    assert [task for page in pages for task in page["items"]] == everything
    assert [len(page["items"]) for page in pages] == [5, 5, 5, 5, 3, 0]
    assert {page["count"] for page in pages} == {len(tasks)}


def test_a_page_by_number_has_fifty_tasks_unless_told_and_a_cursor_to_go_on(client: TestClient) -> None:
    user = new_user()
    for n in range(53):
        create_task(client, user, f"t{n:02}")
    everything = listing(client, user, sort="title")["items"]

    first = listing(client, user, sort="title", page=1)
    alone = listing(client, user, sort="title", page_size=50)
    rest = listing(client, user, sort="title", cursor=first["next_cursor"])

    assert first["items"] == alone["items"] == everything[:50]
    assert first["count"] == 53
    assert rest["items"] == everything[50:]
    assert listing(client, user, sort="title", page=2)["next_cursor"] is None
