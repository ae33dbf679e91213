"""Benchmark: what tracing costs a request (issue 24), on PostgreSQL and on a SQLite file, in one run.

    uv run --group bench python bench/tracing.py [--before 887b32e] [--duration 10] [--warmup 3] [--rounds 3]

Three servers per database, one worker each (``tasks-api serve``), seeded alike through their APIs
(``bench/compare.py``):

- this build with traces exported over OTLP/HTTP (protobuf) to a receiver this script runs on loopback, which
  decodes each export, counts its spans and discards them, as a collector that keeps up would;
- this build with tracing off (no ``OTEL_*`` variable set);
- the build before tracing (``--before``, checked out and installed as ``bench/previous_release.py`` does).

wrk drives get one and create on each in interleaved rounds (in the reverse order every other round), the others
idle, keeping each one's median round, and the server's CPU time per request (``/proc``: every thread, the span
exporter's included), which drifts less with this machine's load than requests/s do. Prints per database and
workload: tracing over off (issue 24's target: at least 0.7x), and off over the build before (the target: within
noise), and the spans the receiver got per request the tracing servers answered (2 for get one and create, the
server span and its statement: fewer would mean spans were dropped, and a ratio that flatters).
Writes bench/results/tracing.json. About 10 minutes with the defaults.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import asdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from compare import ROOT, VENV_BIN, Server, Target, add_load_arguments, deployed, ensure_wrk, wrk
from previous_release import checked_out

from tests.otlp import otlp_receiver

RESULTS = ROOT / "bench" / "results" / "tracing.json"
DATABASES = ("postgresql", "sqlite")
WORKLOADS = ["get one", "create"]
TARGET = 0.7


def cpu_seconds(pid: int) -> float:
    """The CPU time a process has used so far, all its threads (the span exporter's included)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def drive(target: Target, workload: str, args: argparse.Namespace, binary: str) -> dict[str, float]:
    """One round of a workload on one server: wrk's figures, and the server's CPU time per request."""
    url, script = target.base_url, target.paths[workload]
    warm_up = wrk(binary, url, script, args.warmup, args.connections)
    used = cpu_seconds(target.process.pid)
    result = wrk(binary, url, script, args.duration, args.connections)
    used = cpu_seconds(target.process.pid) - used
    requests = result.requests_per_second * args.duration
    served = requests + warm_up.requests_per_second * args.warmup  # warm-ups make spans too
    return {**asdict(result), "cpu_us": used / requests * 1e6, "served": served}


def measure(
    servers: list[Server], args: argparse.Namespace, binary: str, seeded: Callable[[], None]
) -> dict[str, dict[str, Any]]:
    """As ``bench/compare.py`` measures (interleaved rounds, the median by requests/s), with CPU per request;
    ``seeded`` is called once every server is seeded, before the rounds."""
    with ExitStack() as stack:
        targets = [stack.enter_context(deployed(server)) for server in servers]
        seeded()
        results: dict[str, dict[str, Any]] = {server.name: {} for server in servers}
        for workload in WORKLOADS:
            for number in range(args.rounds):
                # In the reverse order every other round: the machine's drift falls on every server alike.
                for target in targets if number % 2 == 0 else targets[::-1]:
                    figures = drive(target, workload, args, binary)
                    results[target.server.name].setdefault(workload, []).append(figures)
                    print(f"  {target.server.name}: {workload}: {figures}", file=sys.stderr)
        for runs in results.values():
            for workload in WORKLOADS:
                ordered = sorted(runs[workload], key=lambda run: run["requests_per_second"])
                runs[workload] = {
                    **ordered[len(ordered) // 2],
                    "cpu_us": statistics.median(run["cpu_us"] for run in ordered),
                    "served": sum(run["served"] for run in ordered),
                }
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", default="887b32e", help="the commit before tracing")
    add_load_arguments(parser)
    args = parser.parse_args()
    binary = ensure_wrk()

    with tempfile.TemporaryDirectory() as scratch, otlp_receiver(keep=False) as receiver:
        before = checked_out(args.before, Path(scratch))
        variants: dict[str, tuple[Path, dict[str, str]]] = {
            "tracing": (VENV_BIN / "tasks-api", {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url}),
            "off": (VENV_BIN / "tasks-api", {}),
            args.before: (before, {}),
        }
        servers = [
            Server(
                f"{name} on {database}",
                [str(tasks_api), "serve", "--no-migrate", "--port", "{port}", "--workers", "1"],
                environment,
                WORKLOADS,
                database=database,
                tasks_api=tasks_api,
            )
            for database in DATABASES
            for name, (tasks_api, environment) in variants.items()
        ]
        # The seeding's spans are not counted; those of its last seconds, still queued, are (a few hundred).
        counted: list[int] = []
        results = measure(servers, args, binary, lambda: counted.append(receiver.discarded))
        spans = receiver.discarded - counted[0]

    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps({"results": results, "spans": spans, "args": vars(args)}, indent=2))
    served = sum(
        results[f"tracing on {database}"][workload]["served"] for database in DATABASES for workload in WORKLOADS
    )
    report(results, args, spans / served)


def report(results: dict[str, Any], args: argparse.Namespace, spans_per_request: float) -> None:
    lines = [
        f"wrk, {args.connections} connections, {args.duration:g} s per workload after {args.warmup:g} s warm-up,"
        f" median of {args.rounds} interleaved rounds; one worker each. Server CPU per request in microseconds"
        " (all its threads, the span exporter's included), median of the rounds. Spans the receiver got per"
        f" request the tracing servers answered: {spans_per_request:.2f}.",
        "",
        f"| database | workload | tracing req/s | CPU us | off req/s | CPU us | {args.before} req/s | CPU us |"
        f" tracing/off req/s (>= {TARGET}) | off/tracing CPU | off/{args.before} req/s | {args.before}/off CPU |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for database in DATABASES:
        for workload in WORKLOADS:
            traced, off, before = (
                results[f"{name} on {database}"][workload] for name in ("tracing", "off", args.before)
            )
            cost = traced["requests_per_second"] / off["requests_per_second"]
            lines.append(
                f"| {database} | {workload} | {traced['requests_per_second']:,.0f} | {traced['cpu_us']:.0f} |"
                f" {off['requests_per_second']:,.0f} | {off['cpu_us']:.0f} |"
                f" {before['requests_per_second']:,.0f} | {before['cpu_us']:.0f} |"
                f" {cost:.2f}x {'met' if cost >= TARGET else 'MISSED'} | {off['cpu_us'] / traced['cpu_us']:.2f}x |"
                f" {off['requests_per_second'] / before['requests_per_second']:.2f}x |"
                f" {before['cpu_us'] / off['cpu_us']:.2f}x |"
            )
    print("\n".join(lines))


if __name__ == "__main__":
    main()
