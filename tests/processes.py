"""Processes the tests start, each in a process group of its own: stopping one stops every child it made
(uvicorn's workers, a shell's background jobs, Chromium under Node), and the session-end check in conftest.py
fails the run if any group outlived its test."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import Any

_STARTED: set[int] = set()


def start(arguments: Sequence[str], **options: Any) -> subprocess.Popen[Any]:
    """``subprocess.Popen`` in a new process group, remembered for the session-end check."""
    process: subprocess.Popen[Any] = subprocess.Popen(arguments, start_new_session=True, **options)
    _STARTED.add(process.pid)
    return process


def kill(process: subprocess.Popen[Any]) -> None:
    """SIGKILL to the process and everything left in its group; returns once they are all dead."""
    _kill_group(process.pid)
    process.wait()


@contextmanager
def started(arguments: Sequence[str], **options: Any) -> Iterator[subprocess.Popen[Any]]:
    """``start`` for the block; the group is killed when it ends, however it ends."""
    process = start(arguments, **options)
    try:
        yield process
    finally:
        kill(process)


def run(arguments: Sequence[str], *, timeout: float, **options: Any) -> subprocess.CompletedProcess[Any]:
    """``subprocess.run``, except that what the command left running is stopped too, and so is the whole group
    when it overruns ``timeout`` (``subprocess.run`` kills the child alone)."""
    if options.pop("capture_output", False):
        options.update(stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    with started(arguments, **options) as process:
        output, errors = process.communicate(timeout=timeout)
    return subprocess.CompletedProcess(arguments, process.returncode, output, errors)


def members(process: subprocess.Popen[Any]) -> list[int]:
    """The live processes of ``process``'s group: it and every child it made (uvicorn's workers, say)."""
    return _live_members(process.pid)


def survivors() -> list[int]:
    """The groups started in this session that still hold a live process."""
    return [group for group in sorted(_STARTED) if _live_members(group)]


def kill_survivors() -> list[int]:
    """Kills what ``survivors`` finds and returns their groups."""
    groups = survivors()
    for group in groups:
        _kill_group(group)
    return groups


def _kill_group(group: int) -> None:
    with suppress(ProcessLookupError):
        os.killpg(group, signal.SIGKILL)
    # Signals are delivered asynchronously: wait for the deaths, or a check right after would still see them.
    deadline = time.monotonic() + 10
    while _live_members(group) and time.monotonic() < deadline:
        time.sleep(0.01)


def _live_members(group: int) -> list[int]:
    """The processes in ``group`` that are not zombies (a zombie is dead, waiting for its parent to reap it)."""
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                # After the command name in parentheses: state, parent, process group.
                state, _parent, pgid = stat.read().rsplit(")", 1)[1].split()[:3]
        except OSError:
            continue
        if int(pgid) == group and state != "Z":
            members.append(int(entry))
    return members
