from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from _pytest.terminal import TerminalReporter
from starlette.testclient import TestClient

from tasks_api.app import create_app
from tasks_api.migrations import upgrade_to_head
from tasks_api.settings import Settings
from tests import processes
from tests.support import BACKENDS, MEASUREMENTS, fresh_database

MEASUREMENTS_REPORT = Path(__file__).resolve().parents[1] / "reports" / "measurements.txt"


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A database built by the Alembic migrations, shared by one test session per backend."""
    with fresh_database(request.param, tmp_path_factory.mktemp("db")) as url:
        upgrade_to_head(url)
        yield url


@pytest.fixture(params=BACKENDS)
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with fresh_database(request.param, tmp_path) as url:
        yield url


@pytest.fixture(scope="session")
def settings(database_url: str) -> Settings:
    # Response validation on: a handler drifting from the contract fails the test with a 500.
    return Settings(database_url=database_url, validate_responses=True)


@pytest.fixture(scope="session")
def client(settings: Settings) -> Iterator[TestClient]:
    with create_app(settings).test_client() as test_client:
        yield test_client


@pytest.fixture
def measured() -> Callable[[str, str], None]:
    """Records a figure a test measured; they are written together to MEASUREMENTS_REPORT at the end of the run."""
    return MEASUREMENTS.__setitem__


_SLOW_TESTS = [Path(__file__).resolve().parent / folder for folder in ("system", "sdk")]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if any(item.path.is_relative_to(folder) for folder in _SLOW_TESTS):
            item.add_marker(pytest.mark.slow)


# Groups of processes that outlived the tests that started them, in this process and (from the controller's
# view) in every xdist worker.
SURVIVORS: list[int] = []


def pytest_sessionfinish(session: pytest.Session) -> None:
    # A process a test started and did not stop holds ports, files and memory after the run: a failure.
    SURVIVORS.extend(processes.kill_survivors())
    worker_output = getattr(session.config, "workeroutput", None)
    if worker_output is not None:
        # An xdist worker: the controller reports for the whole run (pytest_testnodedown).
        worker_output.update(measurements=dict(MEASUREMENTS), survivors=SURVIVORS)
        return
    if SURVIVORS:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(
                f"processes outlived the tests that started them (groups {SURVIVORS}): killed", red=True
            )


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    output = getattr(node, "workeroutput", {})
    MEASUREMENTS.update(output.get("measurements", {}))
    SURVIVORS.extend(output.get("survivors", []))


def pytest_terminal_summary(terminalreporter: TerminalReporter) -> None:
    # In a file, not after the summary: a hundred lines there bury the result (and "1 failed" among them, a
    # count of what a test provoked, reads like one).
    if MEASUREMENTS:
        MEASUREMENTS_REPORT.parent.mkdir(exist_ok=True)
        MEASUREMENTS_REPORT.write_text("".join(f"{name}: {value}\n" for name, value in MEASUREMENTS.items()))
        terminalreporter.write_line(f"{len(MEASUREMENTS)} measurements in {MEASUREMENTS_REPORT}")
