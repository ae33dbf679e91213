"""Benchmark: what an Idempotency-Key costs a write, and what the changes feed costs beside the reads it stands for
(issue 23), on PostgreSQL and on a SQLite file, in one run.

    uv run --group bench python bench/retries_and_sync.py [--duration 10] [--warmup 3] [--connections 32] [--rounds 3]

It starts this build (``tasks-api serve --workers 1``) on a fresh PostgreSQL database and on a SQLite file, and
seeds each alike through its API (``bench/compare.py``: one user with 1,000 tasks, 64 users with 16 each; and 64
quiet users with 16 each that nothing writes to, whose feeds are polled). Then, round after round, it drives each
workload with wrk on each server in turn, the other idle, and keeps each one's median round:

- create, and create with an ``Idempotency-Key`` (a fresh key per request: a random prefix per wrk thread and a
  counter), among the 64 users;
- toggle, and toggle with a key, of the 64 users' tasks;
- get one of those tasks, and a feed poll with nothing new (``GET .../tasks/changes?since=<token>`` with
  ``If-None-Match``: 304) of a quiet user;
- the list of 1,000 and the feed's first page of 1,000 (``GET .../tasks/changes?limit=1000``, no ``since``).

Every workload runs in each round, pairs side by side (each write beside its keyed twin), in the reverse order
every other round, so that this machine's drift and the tables' growth fall on both sides of a ratio alike.
Prints, per database, each ratio issue 23 asks for and whether it meets its target; the keyed writes are checked
to have recorded an answer each (none replayed) and the polls to have stayed 304. Writes
bench/results/retries_and_sync.json. About 11 minutes with ``--duration 5 --rounds 5``.
BENCH_DATABASE_URL names the PostgreSQL server (default postgresql://postgres@127.0.0.1:5432/test).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))

from compare import (
    LIST_SIZE,
    LUA,
    ROOT,
    VENV_BIN,
    Result,
    Server,
    add_load_arguments,
    ensure_wrk,
    free_port,
    fresh_database,
    running,
    seed,
    wrk,
)

RESULTS = ROOT / "bench" / "results" / "retries_and_sync.json"
DATABASES = ("postgresql", "sqlite")
QUIET_USERS, QUIET_TASKS = 64, 16

# Each thread of wrk has a Lua state of its own: a prefix of its own from /dev/urandom, and a counter, make every
# key fresh across threads, warm-ups and rounds. ``done`` runs once per wrk run, after the load: it appends how
# many answers wrk counted, which the check of the recorded answers needs.
_FRESH_KEYS = """
local prefix, counter = nil, 0
init = function(args)
  local random = io.open("/dev/urandom", "rb")
  prefix = (random:read(12):gsub(".", function(c) return string.format("%%02x", c:byte()) end))
  random:close()
end
local function fresh_key()
  counter = counter + 1
  return prefix .. "-" .. counter
end
done = function(summary, latency, requests)
  local counted = io.open("%(counted)s", "a")
  counted:write(summary.requests - summary.errors.status, "\\n")
  counted:close()
end
"""

KEYED_LUA = {
    "create with key": _FRESH_KEYS
    + """
local users = {%(users)s}
request = function()
  return wrk.format("POST", "/api/" .. users[math.random(#users)] .. "/tasks",
    {["Content-Type"] = "application/json", ["Idempotency-Key"] = fresh_key()},
    '{"title": "benchmark task", "description": "created under load"}')
end
""",
    "toggle with key": _FRESH_KEYS
    + """
local targets = {%(targets)s}
request = function()
  return wrk.format("PATCH", "/api/" .. targets[math.random(#targets)] .. "/complete",
    {["Idempotency-Key"] = fresh_key()})
end
""",
}

FEED_POLL_LUA = """
local polls = {%(polls)s}
request = function()
  local poll = polls[math.random(#polls)]
  return wrk.format("GET", "/api/" .. poll[1], {["If-None-Match"] = poll[2]})
end
"""

# In each round's order; pairs side by side, the one a ratio is taken of second.
WORKLOADS = [
    "create",
    "create with key",
    "toggle",
    "toggle with key",
    "get one",
    "feed poll 304",
    "list 1,000",
    "first feed page of 1,000",
]
# Issue 23's targets: (workload, the workload it is measured against, the lowest ratio of their rates).
TARGETS = [
    ("create with key", "create", 0.8),
    ("toggle with key", "toggle", 0.8),
    ("feed poll 304", "get one", 0.9),
    # "Within 1.2x the time of a list of 1,000": a rate at least 1/1.2 of the list's.
    ("first feed page of 1,000", "list 1,000", 1 / 1.2),
]


def lua_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def lua_list(values: list[str]) -> str:
    return ", ".join(lua_string(value) for value in values)


@dataclass
class Deployed:
    """This build, started and seeded on one database, and the wrk scripts that drive it."""

    database: str
    base_url: str
    database_url: str
    data: dict[str, Any]
    scripts: dict[str, Path | None] = field(default_factory=dict)
    # Where the keyed scripts append the answers wrk counted, run by run.
    counted: dict[str, Path] = field(default_factory=dict)

    def url(self, workload: str) -> str:
        if workload == "list 1,000":
            return f"{self.base_url}/api/{self.data['list_user']}/tasks"
        if workload == "first feed page of 1,000":
            return f"{self.base_url}/api/{self.data['list_user']}/tasks/changes?limit={LIST_SIZE}"
        return self.base_url

    def drive(self, workload: str, args: argparse.Namespace, binary: str) -> Result:
        wrk(binary, self.url(workload), self.scripts[workload], args.warmup, args.connections)
        return wrk(binary, self.url(workload), self.scripts[workload], args.duration, args.connections)

    def recorded_answers(self) -> int:
        if self.database == "sqlite":
            with sqlite3.connect(self.database_url.removeprefix("sqlite:///")) as connection:
                count = connection.execute("SELECT count(*) FROM idempotency_keys").fetchone()[0]
        else:
            with psycopg.connect(self.database_url) as connection:
                row = connection.execute("SELECT count(*) FROM idempotency_keys").fetchone()
                assert row is not None
                count = row[0]
        return int(count)


def _wait_for_feed(client: httpx.Client, path: str, expected: int) -> httpx.Response:
    """The feed's first page once it shows all ``expected`` tasks: on PostgreSQL a transaction still running
    anywhere in the cluster holds the feed back (``db.changes``)."""
    deadline = time.monotonic() + 60
    while True:
        first = client.get(path, params={"limit": LIST_SIZE})
        first.raise_for_status()
        shown = len(first.json()["changes"])
        if shown == expected:
            return first
        if time.monotonic() > deadline:
            raise SystemExit(f"{path}: the feed shows {shown} of {expected} tasks after a minute")
        time.sleep(0.2)


async def _seed_quiet_users(base_url: str) -> list[str]:
    users = [str(uuid.uuid4()) for _ in range(QUIET_USERS)]
    semaphore = asyncio.Semaphore(16)
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:

        async def create(user: str, n: int) -> None:
            async with semaphore:
                response = await client.post(f"/api/{user}/tasks", json={"title": f"quiet task {n}"})
                response.raise_for_status()

        await asyncio.gather(*(create(user, n) for user in users for n in range(QUIET_TASKS)))
    return users


def quiet_polls(base_url: str, users: list[str]) -> list[tuple[str, str]]:
    """Each quiet user's poll with nothing new: the path with the token at the end of its feed, and the ETag of
    that (empty) answer, checked to give 304."""
    polls = []
    with httpx.Client(base_url=base_url, timeout=30) as client:
        for user in users:
            path = f"/api/{user}/tasks/changes"
            token = _wait_for_feed(client, path, QUIET_TASKS).json()["next_since"]
            empty = client.get(path, params={"since": token})
            empty.raise_for_status()
            assert empty.json()["changes"] == [], empty.text
            polls.append((f"{user}/tasks/changes?since={token}", empty.headers["etag"]))
    check_polls(base_url, polls)
    return polls


def check_polls(base_url: str, polls: list[tuple[str, str]]) -> None:
    with httpx.Client(base_url=base_url, timeout=30) as client:
        for path, tag in polls:
            status = client.get(f"/api/{path}", headers={"If-None-Match": tag}).status_code
            if status != 304:
                raise SystemExit(f"a feed poll with nothing new answered {status}, not 304: {path}")


@contextmanager
def deployed(database: str, scratch: Path) -> Iterator[Deployed]:
    server = Server(
        f"this build on {database}",
        [str(VENV_BIN / "tasks-api"), "serve", "--no-migrate", "--port", "{port}", "--workers", "1"],
        {},
        WORKLOADS,
        database=database,
    )
    with ExitStack() as stack:
        if database == "sqlite":
            database_url = f"sqlite:///{scratch}/tasks.db"
        else:
            database_url = stack.enter_context(fresh_database("sync"))
        subprocess.run(
            [str(server.tasks_api), "migrate"],
            env={**os.environ, "DATABASE_URL": database_url},
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        port = free_port()
        stack.enter_context(running(server, database_url, port))
        base_url = f"http://127.0.0.1:{port}"
        data = asyncio.run(seed(base_url, None))
        polls = quiet_polls(base_url, asyncio.run(_seed_quiet_users(base_url)))
        with httpx.Client(base_url=base_url, timeout=30) as client:
            _wait_for_feed(client, f"/api/{data['list_user']}/tasks/changes", LIST_SIZE)
        target = Deployed(database, base_url, database_url, {**data, "polls": polls})
        values = {"targets": lua_list(data["targets"]), "users": lua_list(data["users"])}
        values["polls"] = ", ".join(f"{{{lua_string(path)}, {lua_string(tag)}}}" for path, tag in polls)
        templates = {
            "create": LUA["create"],
            "toggle": LUA["toggle"],
            "get one": LUA["get one"],
            "feed poll 304": FEED_POLL_LUA,
            **KEYED_LUA,
        }
        target.scripts = {"list 1,000": None, "first feed page of 1,000": None}
        for workload, template in templates.items():
            slug = workload.replace(" ", "_").replace(",", "")
            counted = scratch / f"{slug}.counted"
            script = scratch / f"{slug}.lua"
            script.write_text(template % {**values, "counted": str(counted)})
            target.scripts[workload] = script
            if workload in KEYED_LUA:
                target.counted[workload] = counted
        yield target


def measure(targets: list[Deployed], args: argparse.Namespace, binary: str) -> dict[str, dict[str, list[Result]]]:
    runs: dict[str, dict[str, list[Result]]] = {target.database: {w: [] for w in WORKLOADS} for target in targets}
    for round_number in range(args.rounds):
        order = WORKLOADS if round_number % 2 == 0 else WORKLOADS[::-1]
        for workload in order:
            for target in targets:
                result = target.drive(workload, args, binary)
                runs[target.database][workload].append(result)
                print(
                    f"  round {round_number + 1}: {target.database}: {workload}: {result.requests_per_second:,.0f}"
                    f" req/s, p99 {result.p99_ms:.1f} ms, {result.errors} errors",
                    file=sys.stderr,
                )
    return runs


def checked(target: Deployed) -> list[str]:
    """That every keyed request wrk counted was a first write with its answer recorded, none a replay (a replay
    records nothing), and that the polls still answer 304."""
    check_polls(target.base_url, target.data["polls"])
    counted = sum(int(line) for path in target.counted.values() if path.exists() for line in path.read_text().split())
    recorded = target.recorded_answers()
    verdict = "none replayed" if recorded >= counted else f"{counted - recorded} or more REPLAYED"
    return [
        f"Keyed writes on {target.database}: {counted:,} answered with a 2xx, {recorded:,} answers recorded"
        f" ({verdict}); the polls still answer 304."
    ]


def median(runs: list[Result]) -> Result:
    return sorted(runs, key=lambda run: run.requests_per_second)[len(runs) // 2]


def report(runs: dict[str, dict[str, list[Result]]], args: argparse.Namespace, notes: list[str]) -> dict[str, Any]:
    lines = [
        f"wrk, {args.connections} connections, {args.duration:g} s per workload after {args.warmup:g} s warm-up,"
        f" median of {args.rounds} interleaved rounds; this build, one worker, on each database.",
        "",
        "| database | workload | req/s | p50 / p99 ms | errors |",
        "|---|---|---|---|---|",
    ]
    results: dict[str, Any] = {}
    for database, workloads in runs.items():
        results[database] = {workload: asdict(median(each)) for workload, each in workloads.items()}
        for workload, each in workloads.items():
            kept = median(each)
            lines.append(
                f"| {database} | {workload} | {kept.requests_per_second:,.0f} | {kept.p50_ms:.1f} / {kept.p99_ms:.1f}"
                f" | {kept.errors} |"
            )
    lines += [
        "",
        "| database | ratio | target | measured | per round | verdict |",
        "|---|---|---|---|---|---|",
    ]
    for database, workloads in runs.items():
        for workload, against, target in TARGETS:
            ratio = median(workloads[workload]).requests_per_second / median(workloads[against]).requests_per_second
            per_round = [
                mine.requests_per_second / theirs.requests_per_second
                for mine, theirs in zip(workloads[workload], workloads[against], strict=True)
            ]
            results[database][f"{workload} / {against}"] = ratio
            lines.append(
                f"| {database} | {workload} / {against} | >= {target:.2f}x | {ratio:.2f}x |"
                f" {statistics.median(per_round):.2f}x ({min(per_round):.2f}-{max(per_round):.2f}) |"
                f" {'pass' if ratio >= target else 'MISSED'} |"
            )
    lines += ["", *notes]
    print("\n".join(lines))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_load_arguments(parser)
    args = parser.parse_args()
    binary = ensure_wrk()
    with ExitStack() as stack:
        targets = [
            stack.enter_context(deployed(database, Path(stack.enter_context(tempfile.TemporaryDirectory()))))
            for database in DATABASES
        ]
        runs = measure(targets, args, binary)
        notes = [line for target in targets for line in checked(target)]
    results = report(runs, args, notes)
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
