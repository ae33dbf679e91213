"""What metrics cost a get-one in server CPU: the service's ASGI app driven in-process (``bench/request_cpu.py``),
without metrics, with them, and with them as each of several workers records them (prometheus_client's
multiprocess mode: every count written to a memory-mapped file).

    uv run python bench/metrics_cpu.py [--requests 6000] [--rounds 5]

On a fresh PostgreSQL database (``BENCH_DATABASE_URL``, default the local server) it seeds tasks, then, round
after round, runs each variant in a fresh process of its own (prometheus_client picks its mode at import), in
turn, and prints each one's lowest CPU time per request and its ratio to the variant without metrics. Variants
are environments in ``VARIANTS``: add one there. Last, since a few microseconds drown in a loaded machine's
noise, it times the metrics middleware alone around an app that answers at once, in both modes: what it adds
to every request.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging.config
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import uvloop
from starlette.types import Receive, Scope, Send

sys.path.insert(0, str(Path(__file__).resolve().parent))

from compare import fresh_database
from request_cpu import _cpu_per_request, _seed

from db.urls import normalised_database_url
from observability.metrics import RequestMetrics
from tasks_api.app import create_app
from tasks_api.logs import logging_config
from tasks_api.migrations import upgrade_to_head
from tasks_api.settings import Settings
from tasks_api.specification import load_specification

MULTIPROCESS = "{multiprocess directory}"
# Variant -> the environment its process runs with (``MULTIPROCESS``: a fresh directory for the metric files).
VARIANTS: dict[str, dict[str, str]] = {
    "no metrics": {},
    "metrics, one worker": {"TASKS_API_METRICS_PORT": "9464"},
    "metrics, each of several workers": {"TASKS_API_METRICS_PORT": "9464", "PROMETHEUS_MULTIPROC_DIR": MULTIPROCESS},
}
BASELINE = "no metrics"


def _measure_here(url: str, paths: list[str], requests: int) -> float:
    """CPU µs per get-one of the app this process's environment configures (the variant's)."""
    logging.config.dictConfig(logging_config())
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stderr.fileno())  # access lines: written, not shown
    settings = replace(Settings.from_env(), database_url=normalised_database_url(url), access_log=True)
    return uvloop.run(_cpu_per_request(create_app(settings), paths, requests))


async def _answer_at_once(scope: Scope, _receive: Receive, send: Send) -> None:
    scope["extensions"]["connexion_routing"] = {"operation_id": "handlers.tasks.get_task"}
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"{}"})


def _middleware_cost(requests: int = 50_000, repeat: int = 5) -> float:
    """CPU µs ``RequestMetrics`` adds to a request, in this process's mode."""

    async def nothing(*_message: Any) -> Any:
        return {}

    async def per_request(app: Any) -> float:
        started = time.process_time()
        for _ in range(requests):
            await app({"type": "http", "method": "GET", "extensions": {}}, nothing, nothing)
        return (time.process_time() - started) * 1e6 / requests

    async def lowest(app: Any) -> float:
        return min([await per_request(app) for _ in range(repeat)])

    measured = RequestMetrics(_answer_at_once, load_specification())
    return asyncio.run(lowest(measured)) - asyncio.run(lowest(_answer_at_once))


def _in_a_process(variant: str, *arguments: str) -> float:
    with tempfile.TemporaryDirectory() as directory:
        environment = {name: value.replace(MULTIPROCESS, directory) for name, value in VARIANTS[variant].items()}
        measured = subprocess.run(
            [sys.executable, __file__, *arguments],
            env={**os.environ, "TASKS_API_AUTH": "none", **environment},
            check=True,
            capture_output=True,
            text=True,
        )
    return float(measured.stdout)


def main() -> None:
    if sys.argv[1:2] == ["--middleware"]:
        print(_middleware_cost())
        return
    if sys.argv[1:2] == ["--measure"]:
        url, paths, requests = sys.argv[2:5]
        print(_measure_here(url, json.loads(Path(paths).read_text()), int(requests)))
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=6000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    runs: dict[str, list[float]] = {variant: [] for variant in VARIANTS}
    with fresh_database("metrics_cpu") as url, tempfile.TemporaryDirectory() as scratch:
        upgrade_to_head(normalised_database_url(url))
        paths_file = Path(scratch) / "paths.json"
        paths_file.write_text(json.dumps(asyncio.run(_seed(url))))
        for _ in range(args.rounds):
            for variant in VARIANTS:
                runs[variant].append(_in_a_process(variant, "--measure", url, str(paths_file), str(args.requests)))
    baseline = min(runs[BASELINE])
    print(f"get-one in-process, PostgreSQL, lowest of {args.rounds} interleaved rounds of {args.requests:,} requests")
    print("\n| variant | server CPU per get-one, µs | over no metrics | rounds, µs |\n|---|---|---|---|")
    for variant, each in runs.items():
        print(
            f"| {variant} | {min(each):.0f} | {min(each) / baseline:.3f}x | {', '.join(f'{run:.0f}' for run in each)} |"
        )
    print("\n| metrics middleware alone | CPU µs added to a request |\n|---|---|")
    for variant in VARIANTS:
        if variant != BASELINE:
            print(f"| {variant} | {_in_a_process(variant, '--middleware'):.1f} |")


if __name__ == "__main__":
    main()
