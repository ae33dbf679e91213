"""Benchmark: this build against an earlier release of the service, in the same rounds, on both databases.

    uv run --group bench python bench/previous_release.py [--release c5bc96e] [--authenticated] [--duration 10]

It checks the release out into a temporary directory with a virtual environment of its own (``uv sync``
from its lock file), then starts both services (one worker each) on PostgreSQL and on SQLite files, seeds them
alike through their APIs and drives get one, list 1,000, create and toggle with wrk in interleaved rounds
(``bench/compare.py``), keeping each one's median round. Prints each workload's ratio, this build over the
release. The default release is the last commit before user ids, priority, tags and due dates (issue 21).
``--authenticated`` runs both with tokens as Better Auth issues them (a JWKS of Ed25519 keys), get one only.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from compare import ROOT, VENV_BIN, Server, add_load_arguments, ensure_wrk, measure

from tests.tokens import SigningKey, claims, jwks_server

WORKLOADS = ["get one", "list 1,000", "create", "toggle"]


def checked_out(release: str, directory: Path) -> Path:
    """The release's tasks-api, installed from its own lock file."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", release], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(directory)], input=archive, check=True)
    subprocess.run(["uv", "sync", "--frozen", "--no-dev", "--quiet"], cwd=directory, check=True)
    return directory / ".venv" / "bin" / "tasks-api"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--release", default="c5bc96e", help="the commit to measure against")
    parser.add_argument("--authenticated", action="store_true", help="both with JWKS tokens, get one only")
    add_load_arguments(parser)
    args = parser.parse_args()
    binary = ensure_wrk()
    workloads = ["get one"] if args.authenticated else WORKLOADS
    key = SigningKey.new("EdDSA", kid="bench")

    with tempfile.TemporaryDirectory() as scratch, jwks_server(key) as keys:
        previous = checked_out(args.release, Path(scratch))
        environment = {"TASKS_API_AUTH_JWKS_URL": keys.url} if args.authenticated else {}
        token_for = (lambda user: key.sign(claims(user, ttl=7200))) if args.authenticated else None
        servers = []
        for database in ("postgresql", "sqlite"):
            for name, tasks_api in (("this build", VENV_BIN / "tasks-api"), (args.release, previous)):
                command = [str(tasks_api), "serve", "--no-migrate", "--port", "{port}", "--workers", "1"]
                servers.append(
                    Server(
                        f"{name} on {database}",
                        command,
                        environment,
                        workloads,
                        database=database,
                        tasks_api=tasks_api,
                        token_for=token_for,
                    )
                )
        results = measure(servers, args, binary)

    lines = [
        f"wrk, {args.connections} connections, {args.duration:g} s per workload after {args.warmup:g} s warm-up,"
        f" median of {args.rounds} interleaved rounds; one worker each"
        + (", every request with its user's token (JWKS, Ed25519)." if args.authenticated else "."),
        "",
        f"| database | workload | this build req/s | p99 ms | {args.release} req/s | p99 ms | ratio |",
        "|---|---|---|---|---|---|---|",
    ]
    for database in ("postgresql", "sqlite"):
        mine, theirs = results[f"this build on {database}"], results[f"{args.release} on {database}"]
        for workload in workloads:
            now, before = mine[workload], theirs[workload]
            ratio = now["requests_per_second"] / before["requests_per_second"]
            lines.append(
                f"| {database} | {workload} | {now['requests_per_second']:,.0f} | {now['p99_ms']:.1f} |"
                f" {before['requests_per_second']:,.0f} | {before['p99_ms']:.1f} | {ratio:.2f}x |"
            )
    print("\n".join(lines))


if __name__ == "__main__":
    main()
