"""Benchmark: what tracing costs a request (issue 24), on PostgreSQL and on a SQLite file, in one run.

    uv run --group bench python bench/tracing.py [--before 887b32e] [--duration 10] [--warmup 3] [--rounds 3]

Three servers per database, one worker each (``tasks-api serve``), seeded alike through their APIs
(``bench/compare.py``):

- this build with traces exported over OTLP/HTTP (protobuf) to a receiver this script runs on loopback, which
  decodes each export, counts its spans and discards them, as a collector that keeps up would;
- this build with tracing off (no ``OTEL_*`` variable set);
- the build before tracing (``--before``, checked out and installed as ``bench/previous_release.py`` does).

wrk drives get one and create on each in interleaved rounds, the others idle, keeping each one's median round.
Prints per database and workload: tracing over off (issue 24's target: at least 0.7x), and off over the build
before (the target: within noise), with the spans the receiver got per request the tracing server answered
(2 for get one, its server span and its statement: fewer would mean spans were dropped, and a ratio that flatters).
Writes bench/results/tracing.json. About 10 minutes with the defaults.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from compare import ROOT, VENV_BIN, Server, add_load_arguments, ensure_wrk, measure
from previous_release import checked_out

from tests.otlp import otlp_receiver

RESULTS = ROOT / "bench" / "results" / "tracing.json"
DATABASES = ("postgresql", "sqlite")
WORKLOADS = ["get one", "create"]
TARGET = 0.7


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
        results = measure(servers, args, binary)
        spans = receiver.discarded

    # Requests the tracing servers answered in every round, warm-ups included, at the median rates; not the
    # seeding's, a few thousand against hundreds of thousands.
    served = (
        sum(
            results[f"tracing on {database}"][workload]["requests_per_second"] * (args.duration + args.warmup)
            for database in DATABASES
            for workload in WORKLOADS
        )
        * args.rounds
    )
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps({"results": results, "spans": spans, "args": vars(args)}, indent=2))
    report(results, args, spans / served)


def report(results: dict[str, Any], args: argparse.Namespace, spans_per_request: float) -> None:
    lines = [
        f"wrk, {args.connections} connections, {args.duration:g} s per workload after {args.warmup:g} s warm-up,"
        f" median of {args.rounds} interleaved rounds; one worker each. Spans received per request served with"
        f" tracing (about, from the median rates): {spans_per_request:.2f}.",
        "",
        f"| database | workload | tracing req/s | p99 ms | off req/s | p99 ms | {args.before} req/s | p99 ms |"
        f" tracing/off (>= {TARGET}) | off/{args.before} |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for database in DATABASES:
        for workload in WORKLOADS:
            traced, off, before = (
                results[f"{name} on {database}"][workload] for name in ("tracing", "off", args.before)
            )
            cost = traced["requests_per_second"] / off["requests_per_second"]
            drift = off["requests_per_second"] / before["requests_per_second"]
            lines.append(
                f"| {database} | {workload} | {traced['requests_per_second']:,.0f} | {traced['p99_ms']:.1f} |"
                f" {off['requests_per_second']:,.0f} | {off['p99_ms']:.1f} | {before['requests_per_second']:,.0f} |"
                f" {before['p99_ms']:.1f} | {cost:.2f}x {'met' if cost >= TARGET else 'MISSED'} | {drift:.2f}x |"
            )
    print("\n".join(lines))


if __name__ == "__main__":
    main()
