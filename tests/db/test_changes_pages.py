"""Where a page of the changes feed ends: the next page begins right after it, whatever the page size, also among
tasks that share a ``change_seq`` (every task written before migration 0006 stands at 0; on PostgreSQL, the
tasks one transaction wrote share its id)."""

from __future__ import annotations

import sqlite3
import uuid
from typing import Any

import psycopg
import pytest
from sqlalchemy.engine import make_url

from db.urls import is_sqlite
from tests.support import create_task, new_user, sync_conninfo

# A title that reads like the start of an entry, escaped as JSON escapes it.
ENTRY_LOOKALIKE = '},{"id":"' + str(uuid.UUID(int=0)) + '","deleted":false,"task":{'


def _set_change_seqs(database_url: str, change_seqs: dict[str, int]) -> None:
    rows = [(seq, uuid.UUID(task_id)) for task_id, seq in change_seqs.items()]
    if is_sqlite(database_url):
        with sqlite3.connect(make_url(database_url).database or "") as connection:
            connection.executemany("UPDATE tasks SET change_seq = ? WHERE id = ?", [(s, i.hex) for s, i in rows])
        return
    with psycopg.connect(sync_conninfo(database_url), autocommit=True) as connection:
        connection.cursor().executemany("UPDATE tasks SET change_seq = %s WHERE id = %s", rows)


def _walk(client: Any, user: str, limit: int, changes: int) -> list[str]:
    """The ids of every change, read in pages of ``limit``, each page from where the previous one ended; a feed
    of ``changes`` that is still not at its end after a page per change is going round in circles."""
    walked: list[str] = []
    params: dict[str, Any] = {"limit": limit}
    for _ in range(changes + 1):
        response = client.get(f"/api/{user}/tasks/changes", params=params)
        assert response.status_code == 200, response.text
        page = response.json()
        assert len(page["changes"]) <= limit
        walked += [change["id"] for change in page["changes"]]
        params["since"] = page["next_since"]
        if not page["has_more"]:
            return walked
    raise AssertionError(f"still more after {changes + 1} pages: {walked}")


@pytest.mark.parametrize("limit", [1, 2, 3, 5, 8, 9])
def test_pages_of_any_size_give_every_task_once_in_feed_order(client: Any, database_url: str, limit: int) -> None:
    user = new_user()
    tasks = [create_task(client, user, ENTRY_LOOKALIKE if n == 0 else f"task {n}") for n in range(8)]
    # Groups of three share a change_seq.
    change_seqs = {task["id"]: n // 3 for n, task in enumerate(tasks)}
    _set_change_seqs(database_url, change_seqs)
    in_feed_order = sorted(change_seqs, key=lambda task_id: (change_seqs[task_id], uuid.UUID(task_id)))

    assert _walk(client, user, limit, len(tasks)) == in_feed_order


def test_a_page_read_after_the_last_is_empty_and_stays_there(client: Any, database_url: str) -> None:
    user = new_user()
    tasks = [create_task(client, user, f"task {n}") for n in range(3)]
    _set_change_seqs(database_url, {task["id"]: 0 for task in tasks})
    last = client.get(f"/api/{user}/tasks/changes").json()

    after = client.get(f"/api/{user}/tasks/changes", params={"since": last["next_since"]}).json()

    assert (after["changes"], after["has_more"]) == ([], False)
    again = client.get(f"/api/{user}/tasks/changes", params={"since": after["next_since"]}).json()
    assert again["changes"] == []
