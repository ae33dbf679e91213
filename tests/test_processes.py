"""The tests' own process handling: what a test starts cannot outlive it unnoticed."""

from __future__ import annotations

import os
import subprocess

import pytest

from tests import processes

# A shell that leaves a child behind and exits, as `tasks-api serve --workers 2` does when its parent is killed.
_ORPHANING = ["sh", "-c", "sleep 600 >/dev/null 2>&1 & echo $!"]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is gone for all that matters; it waits for its new parent to reap it.
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().rsplit(")", 1)[1].split()[0] != "Z"


def test_run_stops_what_the_command_left_running() -> None:
    ran = processes.run(_ORPHANING, timeout=30, capture_output=True, text=True)

    assert not _alive(int(ran.stdout))


def test_run_stops_the_whole_group_when_the_command_overruns() -> None:
    with pytest.raises(subprocess.TimeoutExpired):
        processes.run(["sh", "-c", "sleep 600 & wait"], timeout=0.5)

    assert processes.survivors() == []


def test_the_session_end_check_finds_and_kills_a_group_left_behind() -> None:
    shell = processes.start(_ORPHANING, stdout=subprocess.PIPE, text=True)
    try:
        orphan = int(shell.communicate(timeout=30)[0])
        assert shell.pid in processes.survivors()

        assert shell.pid in processes.kill_survivors()
        assert processes.survivors() == []
    finally:
        processes.kill(shell)
    assert not _alive(orphan)
