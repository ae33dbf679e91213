"""Benchmark: what metrics cost a get-one (issue 24), and that with none configured this build serves as the
build before it did, in one run, on PostgreSQL and on a SQLite file.

    uv run --group bench python bench/metrics.py [--release 887b32e] [--duration 10] [--rounds 3]

It checks the release out into a temporary directory with a virtual environment of its own
(``bench/previous_release.py``) and starts it beside this build under each variant of ``VARIANTS`` (its
environment; one worker each, a fresh database each), seeds them alike through their APIs and drives get one
with wrk, each server in turn in every round, the others idle (``bench/compare.py``), keeping each one's median
round. Prints each variant's rate over this build with nothing configured, and that over the release's.
The default release is the commit before issue 24's code. Add a variant by adding its environment to
``VARIANTS``; ``{port}`` in a value becomes a free port.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from compare import VENV_BIN, Server, add_load_arguments, ensure_wrk, free_port, measure
from previous_release import checked_out

DATABASES = ("postgresql", "sqlite")
NOTHING_CONFIGURED = "nothing configured"
# Variant -> the environment this build is started with.
VARIANTS: dict[str, dict[str, str]] = {
    NOTHING_CONFIGURED: {},
    "metrics on": {"TASKS_API_METRICS_PORT": "{port}"},
}
# (variant, the lowest rate it may have over this build with nothing configured), issue 24's targets.
TARGETS = {"metrics on": 0.95}
COMMAND = ["serve", "--no-migrate", "--port", "{port}", "--workers", "1"]


def _servers(release: Path) -> list[Server]:
    servers = []
    for database in DATABASES:
        servers.append(
            Server(
                f"release on {database}",
                [str(release), *COMMAND],
                {},
                ["get one"],
                database=database,
                tasks_api=release,
            )
        )
        for variant, environment in VARIANTS.items():
            resolved = {name: value.replace("{port}", str(free_port())) for name, value in environment.items()}
            command = [str(VENV_BIN / "tasks-api"), *COMMAND]
            servers.append(Server(f"{variant} on {database}", command, resolved, ["get one"], database=database))
    return servers


def report(results: dict[str, dict[str, Any]], args: argparse.Namespace, release: str) -> None:
    lines = [
        f"get one, wrk, {args.connections} connections, {args.duration:g} s after {args.warmup:g} s warm-up, median"
        f" of {args.rounds} interleaved rounds; one worker each.",
        "",
        "| database | server | req/s | p50 / p99 ms | over nothing configured | target |",
        "|---|---|---|---|---|---|",
    ]
    for database in DATABASES:
        baseline = results[f"{NOTHING_CONFIGURED} on {database}"]["get one"]["requests_per_second"]
        for name, measured in results.items():
            if not name.endswith(f" on {database}"):
                continue
            run = measured["get one"]
            variant = name.removesuffix(f" on {database}")
            target = TARGETS.get(variant)
            ratio = run["requests_per_second"] / baseline
            verdict = "" if target is None else f">= {target:.2f}x: {'pass' if ratio >= target else 'MISSED'}"
            label = f"release {release}" if variant == "release" else variant
            lines.append(
                f"| {database} | {label} | {run['requests_per_second']:,.0f} | {run['p50_ms']:.2f} /"
                f" {run['p99_ms']:.2f} | {ratio:.3f}x | {verdict} |"
            )
    print("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--release", default="887b32e", help="the build before issue 24's code")
    add_load_arguments(parser)
    args = parser.parse_args()
    binary = ensure_wrk()
    with tempfile.TemporaryDirectory() as directory:
        release = checked_out(args.release, Path(directory))
        results = measure(_servers(release), args, binary)
    report(results, args, args.release)


if __name__ == "__main__":
    main()
