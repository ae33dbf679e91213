"""Benchmark: this service against the FastAPI + SQLModel peer and raw psycopg floors, in one run.

    uv run --group bench python bench/compare.py [--duration 10] [--warmup 3] [--connections 32] [--rounds 3]

It starts every server (one worker each unless named otherwise, a fresh PostgreSQL database each, a free
port) and seeds identical data through each server's own API. Then, workload by workload, it drives the
servers in turn with wrk (installed from Debian's packages if missing) at 32 connections after a warm-up,
the others idle, for ``--rounds`` interleaved rounds, and keeps each server's median round: requests/s,
p50/p99 latency, errors. Last it reads each server process's peak RSS and stops them all. Prints a Markdown
table and writes bench/results/compare.json. About 13 minutes with the defaults.
BENCH_DATABASE_URL names the PostgreSQL server (default postgresql://postgres@127.0.0.1:5432/test).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
from psycopg import sql

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.stack import scale_out
from tests.tokens import SigningKey, claims, jwks_server

ROOT = Path(__file__).resolve().parent.parent
PEER_DIR = ROOT.parent / "shared" / "bench"
RESULTS = ROOT / "bench" / "results" / "compare.json"
ADMIN_URL = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
VENV_BIN = Path(sys.executable).parent

# The reads: all the floors and the 2-worker service take.
READS = ["get one", "list 1,000"]
WORKLOADS = [*READS, "create", "toggle", "update"]
LIST_SIZE = 1000
USERS, TASKS_PER_USER = 64, 16

# Get one with each target's user's token; %(tokens)s lines up with %(targets)s.
GET_ONE_WITH_TOKEN = """
local targets = {%(targets)s}
local tokens = {%(tokens)s}
request = function()
  local n = math.random(#targets)
  return wrk.format("GET", "/api/" .. targets[n], {["Authorization"] = "Bearer " .. tokens[n]})
end
"""

LUA = {
    "get one": """
local targets = {%(targets)s}
request = function()
  return wrk.format("GET", "/api/" .. targets[math.random(#targets)])
end
""",
    "create": """
local users = {%(users)s}
request = function()
  return wrk.format("POST", "/api/" .. users[math.random(#users)] .. "/tasks",
    {["Content-Type"] = "application/json"}, '{"title": "benchmark task", "description": "created under load"}')
end
""",
    "toggle": """
local targets = {%(targets)s}
request = function()
  return wrk.format("PATCH", "/api/" .. targets[math.random(#targets)] .. "/complete")
end
""",
    "update": """
local targets = {%(targets)s}
request = function()
  return wrk.format("PUT", "/api/" .. targets[math.random(#targets)], {["Content-Type"] = "application/json"},
    '{"title": "updated under load", "description": null, "is_completed": true}')
end
""",
}


@dataclass
class Result:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    errors: int


@dataclass
class Server:
    name: str
    command: list[str]
    environment: dict[str, str]
    workloads: list[str]
    migrate: bool = True
    # The peer's SQLModel engine needs the driver named; the others take any postgresql:// URL.
    url_scheme: str = "postgresql"
    # Whether it can create tasks; one that cannot is driven with ids of tasks that do not exist.
    seeded: bool = True
    # A user's bearer token, for a server that requires one.
    token_for: Callable[[str], str] | None = None
    # deploy/ on loopback (tests/stack.py: PgBouncer, three instances, HAProxy) instead of ``command``.
    scaled_out: bool = False
    # "sqlite": a fresh file of its own instead of a PostgreSQL database.
    database: str = "postgresql"
    # The tasks-api whose migrations build the server's schema (another release's, for bench/previous_release.py).
    tasks_api: Path = VENV_BIN / "tasks-api"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    subprocess.run(["apt-get", "update", "-qq"], check=True)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "wrk"], check=True, env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    )
    return shutil.which("wrk") or "wrk"


@contextmanager
def fresh_database(label: str) -> Iterator[str]:
    name = f"tasks_bench_{label}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    params = psycopg.conninfo.conninfo_to_dict(ADMIN_URL)
    auth = str(params.get("user", "postgres")) + (f":{params['password']}" if params.get("password") else "")
    try:
        yield f"postgresql://{auth}@{params.get('host', '127.0.0.1')}:{params.get('port', 5432)}/{name}"
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def peak_rss_mb(pid: int) -> float:
    """Peak resident set of a process and its children (uvicorn's workers), in MiB."""
    pids = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        pids += [int(child) for child in children.read_text().split()]
    total_kb = 0
    for each in pids:
        match = re.search(r"VmHWM:\s+(\d+) kB", Path(f"/proc/{each}/status").read_text())
        total_kb += int(match.group(1)) if match else 0
    return total_kb / 1024


@contextmanager
def running(server: Server, database_url: str, port: int) -> Iterator[subprocess.Popen[bytes]]:
    command = [part.replace("{port}", str(port)) for part in server.command]
    url = database_url.replace("postgresql://", f"{server.url_scheme}://", 1)
    environment = {**os.environ, **server.environment, "DATABASE_URL": url}
    process = subprocess.Popen(command, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        probe = f"http://127.0.0.1:{port}/api/{uuid.uuid4()}/tasks"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(probe, timeout=2).status_code < 500:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"{server.name} did not start")
            time.sleep(0.1)
        yield process
    finally:
        process.terminate()
        process.wait(timeout=60)


async def seed(base_url: str, token_for: Callable[[str], str] | None) -> dict[str, Any]:
    """The same data through any of the three APIs: one user with 1,000 tasks, 64 users with 16 each."""
    list_user = str(uuid.uuid4())
    users = [str(uuid.uuid4()) for _ in range(USERS)]
    semaphore = asyncio.Semaphore(16)
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:

        async def create(user: str, n: int) -> str:
            async with semaphore:
                body = {"title": f"task {n}", "description": f"seeded task number {n}" if n % 2 else None}
                headers = {"Authorization": f"Bearer {token_for(user)}"} if token_for else {}
                response = await client.post(f"/api/{user}/tasks", json=body, headers=headers)
                response.raise_for_status()
                return f"{user}/tasks/{response.json()['id']}"

        await asyncio.gather(*(create(list_user, n) for n in range(LIST_SIZE)))
        targets = await asyncio.gather(*(create(user, n) for user in users for n in range(TASKS_PER_USER)))
    return {"list_user": list_user, "users": users, "targets": list(targets)}


def unseeded() -> dict[str, Any]:
    users = [str(uuid.uuid4()) for _ in range(USERS)]
    targets = [f"{user}/tasks/{uuid.uuid4()}" for user in users for _ in range(TASKS_PER_USER)]
    return {"list_user": str(uuid.uuid4()), "users": users, "targets": targets}


def wrk(binary: str, url: str, script: Path | None, seconds: float, connections: int) -> Result:
    command = [binary, "-t2", f"-c{connections}", f"-d{seconds:g}s", "--latency", "--timeout", "10s"]
    if script is not None:
        command += ["-s", str(script)]
    output = subprocess.run([*command, url], check=True, capture_output=True, text=True).stdout

    def latency(percentile: str) -> float:
        match = re.search(rf"^\s+{percentile}%\s+([\d.]+)(us|ms|s)\s*$", output, re.MULTILINE)
        assert match, output
        return float(match.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[match.group(2)]

    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    errors = int(non_2xx.group(1)) if non_2xx else 0
    errors += sum(int(count) for count in socket_errors.groups()) if socket_errors else 0
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    assert rate, output
    return Result(float(rate.group(1)), latency("50"), latency("99"), errors)


def scripts(directory: Path, data: dict[str, Any], token_for: Callable[[str], str] | None) -> dict[str, Path | None]:
    def lua_list(values: list[str]) -> str:
        return ", ".join(f'"{value}"' for value in values)

    values = {"targets": lua_list(data["targets"]), "users": lua_list(data["users"])}
    templates = dict(LUA)
    if token_for is not None:
        values["tokens"] = lua_list([token_for(target.split("/")[0]) for target in data["targets"]])
        templates = {"get one": GET_ONE_WITH_TOKEN}
    paths: dict[str, Path | None] = {"list 1,000": None}
    for workload, template in templates.items():
        path = directory / f"{workload.replace(' ', '_')}.lua"
        path.write_text(template % values)
        paths[workload] = path
    return paths


@dataclass
class Target:
    """A started, seeded server and the wrk scripts that drive it."""

    server: Server
    process: subprocess.Popen[bytes]
    base_url: str
    data: dict[str, Any]
    paths: dict[str, Path | None]

    def drive(self, workload: str, args: argparse.Namespace, binary: str) -> Result:
        url = f"{self.base_url}/api/{self.data['list_user']}/tasks" if workload == "list 1,000" else self.base_url
        wrk(binary, url, self.paths[workload], args.warmup, args.connections)
        return wrk(binary, url, self.paths[workload], args.duration, args.connections)


@contextmanager
def deployed(server: Server) -> Iterator[Target]:
    port = free_port()
    with tempfile.TemporaryDirectory() as scratch, ExitStack() as database:
        if server.database == "sqlite":
            database_url = f"sqlite:///{scratch}/tasks.db"
        else:
            database_url = database.enter_context(fresh_database(server.name.split()[0].lower()))
        if server.migrate:
            subprocess.run(
                [str(server.tasks_api), "migrate"],
                env={**os.environ, "DATABASE_URL": database_url},
                check=True,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        with ExitStack() as launched:
            if server.scaled_out:
                deployment = launched.enter_context(scale_out(database_url))
                process, base_url = deployment.instances[0].process, deployment.balancer.url
            else:
                process, base_url = (
                    launched.enter_context(running(server, database_url, port)),
                    f"http://127.0.0.1:{port}",
                )
            assert process is not None
            data = asyncio.run(seed(base_url, server.token_for)) if server.seeded else unseeded()
            yield Target(server, process, base_url, data, scripts(Path(scratch), data, server.token_for))


def measure(servers: list[Server], args: argparse.Namespace, binary: str) -> dict[str, dict[str, Any]]:
    """Each workload in rounds, every round driving each server that takes it once, while the others wait idle:
    a drift in this machine's speed then falls on all of them alike. Reports each server's median round."""
    with ExitStack() as stack:
        targets = [stack.enter_context(deployed(server)) for server in servers]
        results: dict[str, dict[str, Any]] = {server.name: {} for server in servers}
        for workload in WORKLOADS:
            takers = [target for target in targets if workload in target.server.workloads]
            rounds: dict[str, list[Result]] = {target.server.name: [] for target in takers}
            for _ in range(args.rounds):
                for target in takers:
                    rounds[target.server.name].append(target.drive(workload, args, binary))
            for name, runs in rounds.items():
                median = sorted(runs, key=lambda run: run.requests_per_second)[len(runs) // 2]
                results[name][workload] = asdict(median)
                print(f"  {name}: {workload}: {[run.requests_per_second for run in runs]} -> {median}", file=sys.stderr)
        for target in targets:
            results[target.server.name]["peak_rss_mb"] = peak_rss_mb(target.process.pid)
    return results


def add_load_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of the load wrk puts on each server, as ``measure`` reads them."""
    parser.add_argument("--duration", type=float, default=10, help="seconds measured per workload")
    parser.add_argument("--warmup", type=float, default=3, help="seconds of load before each measurement")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds per workload; the median is kept")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_load_arguments(parser)
    args = parser.parse_args()
    binary = ensure_wrk()

    uvicorn = [
        str(VENV_BIN / "uvicorn"),
        "--host",
        "127.0.0.1",
        "--port",
        "{port}",
        "--workers",
        "1",
        "--no-access-log",
    ]
    # The service with authentication as Better Auth deploys it: a JWKS of Ed25519 keys.
    key = SigningKey.new("EdDSA", kid="bench")
    with jwks_server(key) as keys:
        servers = _servers(uvicorn)
        results = measure(servers, args, binary)
        # On their own, after the others have stopped: together, every server's pool would not fit PostgreSQL's
        # 100 connections. The service is measured again beside it, so the ratio comes from the same rounds.
        secured = Server(
            "service, JWT",
            [str(VENV_BIN / "tasks-api"), "serve", "--no-migrate", "--port", "{port}", "--workers", "1"],
            {"TASKS_API_AUTH_JWKS_URL": keys.url},
            ["get one"],
            token_for=lambda user: key.sign(claims(user, ttl=7200)),
        )
        beside = Server("service, beside JWT", servers[0].command, {}, ["get one"])
        results.update(measure([beside, secured], args, binary))
        # deploy/: three instances of one worker behind HAProxy, through PgBouncer, against one instance direct.
        stacked = Server("3 instances behind HAProxy and PgBouncer", [], {}, ["get one"], scaled_out=True)
        direct = Server("service, beside the stack", servers[0].command, {}, ["get one"])
        results.update(measure([direct, stacked], args, binary))
    report(results, args)


def _servers(uvicorn: list[str]) -> list[Server]:
    return [
        Server(
            "service",
            [str(VENV_BIN / "tasks-api"), "serve", "--no-migrate", "--port", "{port}", "--workers", "1"],
            {},
            WORKLOADS,
        ),
        Server(
            "FastAPI + SQLModel peer",
            [*uvicorn, "--app-dir", str(PEER_DIR), "peer_fastapi_sqlmodel:app"],
            {},
            WORKLOADS,
            migrate=False,
            url_scheme="postgresql+psycopg",
        ),
        Server("raw floor", [*uvicorn, "--app-dir", str(ROOT / "bench"), "floor_app:app"], {}, READS),
        Server(
            "Starlette floor",
            [*uvicorn, "--app-dir", str(ROOT / "bench"), "floor_app:starlette_app"],
            {},
            READS,
        ),
        Server(
            "Connexion, no database",
            [*uvicorn, "--app-dir", str(ROOT / "bench"), "connexion_ceiling_app:app"],
            {},
            ["get one"],
            migrate=False,
            seeded=False,
        ),
        Server(
            "service on SQLite",
            [str(VENV_BIN / "tasks-api"), "serve", "--no-migrate", "--port", "{port}", "--workers", "1"],
            {},
            WORKLOADS,
            database="sqlite",
        ),
        Server(
            "SQLite floor",
            [*uvicorn, "--app-dir", str(ROOT / "bench"), "sqlite_floor_app:app"],
            {},
            READS,
            database="sqlite",
        ),
        Server(
            "service, 2 workers",
            [str(VENV_BIN / "tasks-api"), "serve", "--no-migrate", "--port", "{port}", "--workers", "2"],
            {},
            READS,
        ),
    ]


def report(results: dict[str, Any], args: argparse.Namespace) -> None:
    service, peer, floor = results["service"], results["FastAPI + SQLModel peer"], results["raw floor"]
    starlette_floor = results["Starlette floor"]
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.machine(),
    )
    lines = [
        f"Machine: {cpu}, {os.cpu_count()} cores; PostgreSQL on the same machine; Python {platform.python_version()};",
        f"wrk, {args.connections} connections, {args.duration:g} s per workload after {args.warmup:g} s warm-up, "
        f"median of {args.rounds} interleaved rounds; one worker per server.",
        "",
        "| workload | service req/s | p50 / p99 ms | errors | peer req/s | floor req/s | Starlette floor req/s"
        " | service/peer | service/floor | service/Starlette floor |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]

    def against(mine: dict[str, Any], reference: dict[str, Any] | None) -> tuple[str, str]:
        if reference is None or not reference["requests_per_second"]:
            return "—", "—"
        rate = reference["requests_per_second"]
        return f"{rate:,.0f}", f"{mine['requests_per_second'] / rate:.2f}x"

    for workload in WORKLOADS:
        mine = service[workload]
        (peer_rate, to_peer), (floor_rate, to_floor), (starlette_rate, to_starlette) = (
            against(mine, reference.get(workload)) for reference in (peer, floor, starlette_floor)
        )
        lines.append(
            f"| {workload} | {mine['requests_per_second']:,.0f} | {mine['p50_ms']:.1f} / {mine['p99_ms']:.1f} | "
            f"{mine['errors']} | {peer_rate} | {floor_rate} | {starlette_rate} | {to_peer} | {to_floor} | "
            f"{to_starlette} |"
        )
    two, ceiling = results["service, 2 workers"], results["Connexion, no database"]["get one"]
    ceiling_ratio = ceiling["requests_per_second"] / floor["get one"]["requests_per_second"]
    lines += [
        "",
        f"Peak RSS: service {service['peak_rss_mb']:.0f} MiB, peer {peer['peak_rss_mb']:.0f} MiB, "
        f"floor {floor['peak_rss_mb']:.0f} MiB, Starlette floor {starlette_floor['peak_rss_mb']:.0f} MiB; "
        f"service with 2 workers {two['peak_rss_mb']:.0f} MiB in all.",
        f"Errors: peer {sum(peer[w]['errors'] for w in WORKLOADS)}, floor "
        f"{sum(floor[w]['errors'] for w in READS)}, Starlette floor "
        f"{sum(starlette_floor[w]['errors'] for w in READS)}.",
        f"Connexion with the same spec and validators but a constant handler (no database): get one "
        f"{ceiling['requests_per_second']:,.0f} req/s = {ceiling_ratio:.2f}x the floor.",
        "",
        "| workload | 1 worker req/s | 2 workers req/s | scaling |",
        "|---|---|---|---|",
    ]
    for workload in READS:
        one, both = service[workload]["requests_per_second"], two[workload]["requests_per_second"]
        lines.append(f"| {workload} | {one:,.0f} | {both:,.0f} | {both / one:.2f}x |")
    secured, beside = results["service, JWT"]["get one"], results["service, beside JWT"]["get one"]
    secured_ratio = secured["requests_per_second"] / beside["requests_per_second"]
    lines += [
        "",
        f"With authentication (a JWKS of Ed25519 keys, each request carrying its user's token), measured in rounds"
        f" of its own beside the service without: get one {secured['requests_per_second']:,.0f} req/s, p50 / p99"
        f" {secured['p50_ms']:.1f} / {secured['p99_ms']:.1f} ms, {secured['errors']} errors, against"
        f" {beside['requests_per_second']:,.0f} req/s: {secured_ratio:.2f}x.",
    ]
    stacked, direct = (
        results["3 instances behind HAProxy and PgBouncer"]["get one"],
        results["service, beside the stack"]["get one"],
    )
    lines += [
        "",
        f"Scaled out (deploy/: 3 instances of 1 worker behind HAProxy, through PgBouncer in transaction mode), in"
        f" rounds of its own beside 1 instance direct: get one {stacked['requests_per_second']:,.0f} req/s, p50 / p99"
        f" {stacked['p50_ms']:.1f} / {stacked['p99_ms']:.1f} ms, {stacked['errors']} errors, against"
        f" {direct['requests_per_second']:,.0f} req/s (p99 {direct['p99_ms']:.1f} ms):"
        f" {stacked['requests_per_second'] / direct['requests_per_second']:.2f}x.",
    ]
    lines += ["", *_sqlite_report(results)]
    print("\n".join(lines))
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2))


def _sqlite_report(results: dict[str, Any]) -> list[str]:
    """The service on SQLite against the service on PostgreSQL and against the raw SQLite floor."""
    on_sqlite, on_postgresql, floor = results["service on SQLite"], results["service"], results["SQLite floor"]
    lines = [
        "| workload | service on SQLite req/s | p50 / p99 ms | errors | service on PostgreSQL req/s"
        " | SQLite floor req/s | SQLite/PostgreSQL | SQLite/floor |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for workload in WORKLOADS:
        mine = on_sqlite[workload]
        rate, postgresql = mine["requests_per_second"], on_postgresql[workload]["requests_per_second"]
        floor_rate = floor.get(workload, {}).get("requests_per_second")
        floor_cells = (
            f"{floor_rate:,.0f} | {rate / postgresql:.2f}x | {rate / floor_rate:.2f}x"
            if floor_rate
            else (f"— | {rate / postgresql:.2f}x | —")
        )
        lines.append(
            f"| {workload} | {rate:,.0f} | {mine['p50_ms']:.1f} / {mine['p99_ms']:.1f} | {mine['errors']} |"
            f" {postgresql:,.0f} | {floor_cells} |"
        )
    lines.append(
        f"Peak RSS: service on SQLite {on_sqlite['peak_rss_mb']:.0f} MiB, SQLite floor {floor['peak_rss_mb']:.0f} MiB."
    )
    return lines


if __name__ == "__main__":
    main()
