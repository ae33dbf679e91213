"""Idempotency-Key against real servers: one key sent by many requests at once, by fresh connections that land on
several workers or instances, and retried after the server was killed with the write committed and its answer
not sent. Each key writes once; every other answer is the first one replayed, or 409 while it runs."""

from __future__ import annotations

import itertools
import os
import ssl
import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from typing import Any

import httpx
import psycopg
import pytest

from tasks_api.migrations import upgrade_to_head
from tests import processes
from tests.pg_proxy import cutting_proxy
from tests.stack import Stack, scale_out
from tests.support import (
    ServerProcess,
    assert_problem,
    create_task,
    fresh_database,
    new_user,
    serving,
    serving_together,
    sync_conninfo,
    wait_for,
)

AT_ONCE = 50
# httpx builds a TLS context for every client it makes (27 ms), though no connection here uses TLS: one for all.
TLS = ssl.create_default_context()
REPLAYED = "idempotent-replayed"
# What a replay must give again, besides the status and the body.
REPLAYED_HEADERS = ("content-type", "etag", "location", "cache-control")


# ---- servers ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def one_worker(database_url: str) -> Iterator[ServerProcess]:
    with serving(database_url, "--no-migrate") as server:
        yield server


@pytest.fixture(scope="module")
def two_workers(database_url: str) -> Iterator[ServerProcess]:
    with serving(database_url, "--no-migrate", "--workers", "2") as server:
        # The parent announces the socket before its workers have started (connections are refused until one
        # has); until both have, one takes everything.
        answering: set[int] = set()

        def both_answer() -> bool:
            with suppress(httpx.TransportError):
                response, pid = _on_a_fresh_connection(server, "GET", "/api/health/ready")
                if response.status_code == 200:
                    answering.add(pid)
            return len(answering) == 2

        wait_for(both_answer, what="both workers to answer")
        yield server


@pytest.fixture(params=["one_worker", "two_workers"])
def server(request: pytest.FixtureRequest, database_url: str) -> ServerProcess:
    # Named here so that the test is parametrised by it: a fixture got by name cannot add parameters.
    served: ServerProcess = request.getfixturevalue(request.param)
    return served


@pytest.fixture(scope="module")
def postgres_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with fresh_database("postgresql", tmp_path_factory.mktemp("held")) as url:
        upgrade_to_head(url)
        yield url


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with fresh_database("postgresql", tmp_path_factory.mktemp("stack")) as url:
        upgrade_to_head(url)
        with scale_out(url, TASKS_API_ACCESS_LOG="false") as running:
            yield running


# ---- requests --------------------------------------------------------------------------------------------


def _client(base_url: str) -> httpx.Client:
    return httpx.Client(base_url=base_url, timeout=30, verify=TLS)


def _keyed(key: str) -> dict[str, str]:
    return {"Idempotency-Key": key}


def _all_at_once(base_url: str, method: str, path: str, **request: Any) -> list[httpx.Response]:
    """``AT_ONCE`` copies of one request, each on a connection of its own opened beforehand, sent together."""
    barrier = threading.Barrier(AT_ONCE)

    def one(_: int) -> httpx.Response:
        with _client(base_url) as client:
            client.get("/api/health/live").raise_for_status()  # opens the connection
            barrier.wait(timeout=30)
            return client.request(method, path, **request)

    with ThreadPoolExecutor(AT_ONCE) as pool:
        return list(pool.map(one, range(AT_ONCE)))


def _on_a_fresh_connection(server: ServerProcess, method: str, path: str, **request: Any) -> tuple[httpx.Response, int]:
    """The answer to a request sent on a new connection, and the process of the server that answered it."""
    with _client(server.base_url) as client:
        response = client.request(method, path, **request)
        return response, _answered_by(server, response)


def _answered_by(server: ServerProcess, response: httpx.Response) -> int:
    """The process of ``server``'s group holding the server's end of the (still open) connection ``response``
    came on: with ``--workers``, the worker that answered."""
    _, client_port = response.extensions["network_stream"].get_extra_info("client_addr")
    server_port = int(server.base_url.rsplit(":", 1)[1])
    with open("/proc/net/tcp") as table:
        # sl, local address, remote address (hex address:port), state (01: established), ..., inode
        ends = (line.split() for line in list(table)[1:])
        inode = next(
            fields[9]
            for fields in ends
            if fields[3] == "01"
            and int(fields[1].split(":")[1], 16) == server_port
            and int(fields[2].split(":")[1], 16) == client_port
        )
    for pid in processes.members(server.process):
        with suppress(OSError):
            if any(_is_socket(pid, fd, inode) for fd in os.listdir(f"/proc/{pid}/fd")):
                return pid
    raise AssertionError(f"no process of the server holds the connection from port {client_port}")


def _is_socket(pid: int, fd: str, inode: str) -> bool:
    try:
        return os.readlink(f"/proc/{pid}/fd/{fd}") == f"socket:[{inode}]"
    except OSError:  # closed meanwhile
        return False


# ---- what the answers must be ----------------------------------------------------------------------------


def _assert_replay_of(original: httpx.Response, replay: httpx.Response) -> None:
    assert replay.headers.get(REPLAYED) == "true", replay.headers
    assert replay.status_code == original.status_code, replay.text
    assert replay.content == original.content
    for name in REPLAYED_HEADERS:
        assert replay.headers.get(name) == original.headers.get(name), name


def _one_write_and_its_replays(answers: list[httpx.Response], status: int) -> httpx.Response:
    """Of answers to one keyed request: the single one that wrote (``status``, not marked replayed), which it
    returns; the others its replays, or 409 for a request that came while it ran."""
    originals, replays, busy = [], [], []
    for answer in answers:
        if answer.headers.get(REPLAYED) is not None:
            replays.append(answer)
        elif answer.status_code == 409:
            busy.append(answer)
        else:
            originals.append(answer)
    assert [answer.status_code for answer in originals] == [status], [answer.text for answer in originals]
    original = originals[0]
    for replay in replays:
        _assert_replay_of(original, replay)
    for answer in busy:
        assert_problem(answer, 409, "IDEMPOTENCY_KEY_IN_PROGRESS")
        assert int(answer.headers["retry-after"]) > 0
    return original


def _tasks_of(base_url: str, user: str) -> dict[str, Any]:
    listed = httpx.get(f"{base_url}/api/{user}/tasks", params={"limit": 1000})
    assert listed.status_code == 200, listed.text
    tasks: dict[str, Any] = listed.json()
    return tasks


# ---- one key, many requests at once ----------------------------------------------------------------------


def test_fifty_concurrent_creates_with_one_key_create_one_task(
    server: ServerProcess, request: pytest.FixtureRequest, measured: Callable[[str, str], None]
) -> None:
    user, key = new_user(), str(uuid.uuid4())
    path = f"/api/{user}/tasks"
    body = {"title": "sent fifty times", "tags": ["once"]}

    answers = _all_at_once(server.base_url, "POST", path, json=body, headers=_keyed(key))

    original = _one_write_and_its_replays(answers, 201)
    replayed = sum(answer.headers.get(REPLAYED) == "true" for answer in answers)
    measured(
        f"{AT_ONCE} concurrent creates with one key ({request.node.callspec.id})",
        f"1 written, {replayed} replayed, {AT_ONCE - 1 - replayed} told 409 (in progress)",
    )
    tasks = _tasks_of(server.base_url, user)
    assert tasks["count"] == 1
    assert tasks["items"] == [original.json()]
    # Once the write is over, every retry is its replay.
    _assert_replay_of(original, httpx.post(f"{server.base_url}{path}", json=body, headers=_keyed(key)))


def test_fifty_concurrent_toggles_with_one_key_flip_the_task_once(server: ServerProcess) -> None:
    user, key = new_user(), str(uuid.uuid4())
    with _client(server.base_url) as client:
        task = create_task(client, user, "toggled fifty times")
    path = f"/api/{user}/tasks/{task['id']}/complete"

    answers = _all_at_once(server.base_url, "PATCH", path, headers=_keyed(key))

    original = _one_write_and_its_replays(answers, 200)
    stored = httpx.get(f"{server.base_url}/api/{user}/tasks/{task['id']}")
    # A second toggle would have made it pending again; a third, completed at version 4.
    assert stored.json()["is_completed"] is True
    assert stored.headers["etag"] == original.headers["etag"] == '"2"'
    assert stored.json() == original.json()
    _assert_replay_of(original, httpx.patch(f"{server.base_url}{path}", headers=_keyed(key)))


# ---- one key, on fresh connections across workers and instances ------------------------------------------


def test_a_key_sent_again_on_fresh_connections_is_replayed_by_every_worker(two_workers: ServerProcess) -> None:
    user, key = new_user(), str(uuid.uuid4())
    path, body = f"/api/{user}/tasks", {"title": "one key, two workers"}
    answers: list[httpx.Response] = []
    workers: list[int] = []

    # Until the other worker than the one that wrote has replayed it (which one takes a connection is the
    # kernel's choice).
    for _ in range(200):
        response, worker = _on_a_fresh_connection(two_workers, "POST", path, json=body, headers=_keyed(key))
        answers.append(response)
        workers.append(worker)
        if len(answers) >= 20 and len(set(workers)) == 2:
            break

    assert len(set(workers)) == 2, "every request went to one worker"
    first, *retries = answers
    assert first.status_code == 201, first.text
    assert REPLAYED not in first.headers
    for retry in retries:
        _assert_replay_of(first, retry)
    assert _tasks_of(two_workers.base_url, user)["items"] == [first.json()]


def test_fifty_concurrent_creates_with_one_key_through_the_load_balancer_create_one_task(stack: Stack) -> None:
    user, key = new_user(), str(uuid.uuid4())
    body = {"title": "sent fifty times to three instances"}
    before = stack.balancer.served()

    answers = _all_at_once(stack.balancer.url, "POST", f"/api/{user}/tasks", json=body, headers=_keyed(key))

    served = stack.balancer.served()
    assert all(served[name] > before[name] for name in before), (before, served)
    original = _one_write_and_its_replays(answers, 201)
    assert _tasks_of(stack.balancer.url, user)["items"] == [original.json()]


def test_a_key_sent_again_on_fresh_connections_is_replayed_by_every_instance(stack: Stack) -> None:
    user, key = new_user(), str(uuid.uuid4())
    url, body = f"{stack.balancer.url}/api/{user}/tasks", {"title": "one key, three instances"}
    before = stack.balancer.served()

    answers = [httpx.post(url, json=body, headers=_keyed(key)) for _ in range(30)]

    served = stack.balancer.served()
    assert all(served[name] > before[name] for name in before), (before, served)
    first, *retries = answers
    assert first.status_code == 201, first.text
    assert REPLAYED not in first.headers
    for retry in retries:
        _assert_replay_of(first, retry)
    assert _tasks_of(stack.balancer.url, user)["items"] == [first.json()]


# ---- a server killed between the commit and the answer ---------------------------------------------------


def _in_database(database_url: str, query: str, *params: Any) -> Any:
    with psycopg.connect(sync_conninfo(database_url), autocommit=True) as connection:
        row = connection.execute(query, params).fetchone()
    return row[0] if row else None


def test_a_create_committed_but_unanswered_when_the_server_is_killed_is_replayed_by_the_next_one(
    postgres_url: str,
) -> None:
    user, key = new_user(), str(uuid.uuid4())
    # Unique, and in the keyed write's parameters: the proxy holds the answer to the message carrying it.
    body = {"title": f"committed, never answered {uuid.uuid4()}"}
    outcome: dict[str, Any] = {}

    def send(base_url: str) -> None:
        try:
            with _client(base_url) as client:
                outcome["answer"] = client.post(f"/api/{user}/tasks", json=body, headers=_keyed(key))
        except httpx.TransportError as error:
            outcome["error"] = error

    # The next server starts with the first (a restart, without the wait) and is asked once the first is dead.
    with (
        cutting_proxy(postgres_url) as (proxy, proxied_url),
        serving_together(2, proxied_url, "--no-migrate") as (server, next_server),
    ):
        proxy.hold(body["title"].encode())
        sender = threading.Thread(target=send, args=(server.base_url,))
        sender.start()
        assert proxy.held.wait(timeout=30), "the write never reached PostgreSQL"
        count = "SELECT count(*) FROM tasks WHERE user_id = %s"
        wait_for(lambda: _in_database(postgres_url, count, user) == 1, what="the create to commit")
        processes.kill(server.process)
        sender.join(timeout=30)
        assert "error" in outcome, outcome  # the client never heard

        with _client(next_server.base_url) as client:
            retry = client.post(f"/api/{user}/tasks", json=body, headers=_keyed(key))
            assert retry.status_code == 201, retry.text
            stored = client.get(f"/api/{user}/tasks/{retry.json()['id']}")
        tasks = _tasks_of(next_server.base_url, user)

    assert retry.headers[REPLAYED] == "true"
    recorded = "SELECT body FROM idempotency_keys WHERE user_id = %s AND key = %s"
    assert retry.content == _in_database(postgres_url, recorded, user, key).encode()
    assert retry.json() == stored.json()
    assert retry.headers["etag"] == stored.headers["etag"]
    assert retry.headers["location"] == f"/api/{user}/tasks/{stored.json()['id']}"
    assert tasks["count"] == 1


def test_keyed_creates_cut_off_by_a_kill_9_give_one_task_per_key_when_retried(database_url: str) -> None:
    user = new_user()
    path = f"/api/{user}/tasks"
    sent: dict[str, dict[str, str]] = {}  # key: body, before it is sent
    answered: dict[str, httpx.Response] = {}

    def client(number: int, base_url: str) -> None:
        with _client(base_url) as session:
            for n in itertools.count():
                key, body = f"client-{number}-create-{n}", {"title": f"stream {number}.{n}"}
                sent[key] = body
                try:
                    answered[key] = session.post(path, json=body, headers=_keyed(key))
                except httpx.TransportError:
                    return

    # The next server starts with the first (a restart, without the wait) and is asked once the first is dead.
    with serving_together(2, database_url, "--no-migrate") as (server, next_server):
        clients = [threading.Thread(target=client, args=(n, server.base_url)) for n in range(4)]
        for thread in clients:
            thread.start()
        wait_for(lambda: len(answered) >= 40, what="40 answers")
        processes.kill(server.process)
        for thread in clients:
            thread.join(timeout=30)
        assert {answer.status_code for answer in answered.values()} == {201}

        retries: dict[str, httpx.Response] = {}
        with _client(next_server.base_url) as session:
            for key, body in sent.items():
                # 409 while a request of the killed server still holds the key in PostgreSQL, until it notices.
                def settled(key: str = key, body: dict[str, str] = body) -> bool:
                    retries[key] = session.post(path, json=body, headers=_keyed(key))
                    return retries[key].status_code != 409

                wait_for(settled, what=f"{key!r} to be settled")
        tasks = _tasks_of(next_server.base_url, user)

    assert {key: retry.status_code for key, retry in retries.items()} == dict.fromkeys(sent, 201)
    for key, answer in answered.items():
        _assert_replay_of(answer, retries[key])
    ids = {key: retry.json()["id"] for key, retry in retries.items()}
    assert len(set(ids.values())) == len(sent)  # no two keys gave one task
    assert tasks["count"] == len(sent)  # no key gave two
    assert {task["id"]: task["title"] for task in tasks["items"]} == {ids[key]: sent[key]["title"] for key in sent}
