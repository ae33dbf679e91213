"""The Containerfile's image, built once for the module on a base made from Debian's packages and run as
``buildah run`` runs it: it serves PostgreSQL and an SQLite file in a volume, migrates on start, runs as a user
other than root, stops with status 0 on SIGTERM, and holds no build tools, tests nor ``.git``."""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tasks_api.migrations import current_revision, schema_head
from tests import container
from tests.support import MEASUREMENTS, closed_port, fresh_database
from tests.tokens import SECRET, bearer, hs256

# What ``docker stop`` waits for before it sends SIGKILL, unless told otherwise.
DOCKER_STOP_TIMEOUT = 10
NO_AUTHENTICATION = {"TASKS_API_AUTH": "none"}


@dataclass(frozen=True)
class Image:
    tag: str
    config: dict[str, Any]


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Image]:
    container.require_tools()
    started = time.monotonic()
    base = container.base_image()
    based = time.monotonic()
    tag = f"localhost/tasks-api-test:{uuid.uuid4().hex[:12]}"
    try:
        container.build(tag, base, tmp_path_factory.mktemp("build"))
        built = time.monotonic()
        MEASUREMENTS["container base image ready (s; mmdebstrap and import on a first run)"] = f"{based - started:.1f}"
        MEASUREMENTS["container image build (s)"] = f"{built - based:.1f}"
        MEASUREMENTS["container image size (MB, Debian bookworm base)"] = f"{container.image_size(tag) / 1e6:.0f}"
        yield Image(tag, container.image_config(tag))
    finally:
        container.remove_image(tag)


def _uid(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("Uid:")).split()[1])


def _stop(served: container.Served) -> tuple[int, float]:
    """SIGTERM to the server, as a container engine's stop sends it; its exit status and how long it took."""
    started = time.monotonic()
    os.kill(served.server_pid(), signal.SIGTERM)
    status = served.process.wait(timeout=60)
    return status, time.monotonic() - started


def test_the_ignore_files_for_podman_and_docker_are_the_same() -> None:
    root = container.PROJECT_ROOT
    assert (root / ".containerignore").read_text() == (root / ".dockerignore").read_text()


def test_the_image_serves_on_all_interfaces_as_a_user_with_a_health_check_and_a_volume(image: Image) -> None:
    config = image.config

    assert config["Cmd"] == ["tasks-api", "serve", "--host", "0.0.0.0"]
    assert config["User"] not in ("", "root", "0")
    assert config["StopSignal"] == "SIGTERM"
    assert config["Healthcheck"]["Test"][0] == "CMD"
    assert "/data" in config["Volumes"]


def test_it_refuses_to_start_without_authentication(image: Image) -> None:
    with container.container(image.tag) as working:
        ran = working.run(*image.config["Cmd"], "--port", str(closed_port()))

    assert ran.returncode == 2
    assert "refusing to start" in ran.stderr
    assert "TASKS_API_AUTH=none" in ran.stderr


def test_it_migrates_an_empty_postgresql_database_on_start_and_serves_it(image: Image, tmp_path: Path) -> None:
    user = str(uuid.uuid4())
    with fresh_database("postgresql", tmp_path) as database_url:
        before = current_revision(database_url)
        environment = {"DATABASE_URL": database_url, "TASKS_API_AUTH_JWT_SECRET": SECRET.decode()}
        with container.serving(image.tag, closed_port(), tmp_path / "log", environment=environment) as served:
            after = current_revision(database_url)
            headers = bearer(hs256(user))
            created = httpx.post(
                f"{served.base_url}/api/{user}/tasks", json={"title": "in a container"}, headers=headers
            )
            listed = httpx.get(f"{served.base_url}/api/{user}/tasks", headers=headers)
            anonymous = httpx.get(f"{served.base_url}/api/{user}/tasks")

    assert before is None
    assert after == schema_head()
    assert created.status_code == 201, created.text
    assert [task["title"] for task in listed.json()["items"]] == ["in a container"]
    assert anonymous.status_code == 401


def test_an_sqlite_database_in_a_volume_outlives_the_container(image: Image, tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    with container.container(image.tag) as working:
        uid, gid = (int(working.run("id", option).stdout) for option in ("-u", "-g"))
    os.chown(data, uid, gid)
    # buildah run (1.28) mounts the image's own anonymous volume over a --volume whose target is spelled as the
    # VOLUME instruction spells it; with a trailing slash the host directory wins, as with podman run or docker run.
    volume = [f"{data}:/data/"]
    user = str(uuid.uuid4())

    port = closed_port()
    with container.serving(image.tag, port, tmp_path / "first", environment=NO_AUTHENTICATION, volumes=volume) as first:
        created = httpx.post(f"{first.base_url}/api/{user}/tasks", json={"title": "kept"})
        first_status, _ = _stop(first)
    with container.serving(
        image.tag, port, tmp_path / "second", environment=NO_AUTHENTICATION, volumes=volume
    ) as again:
        read = httpx.get(f"{again.base_url}/api/{user}/tasks/{created.json()['id']}")

    assert created.status_code == 201, created.text
    assert first_status == 0
    assert read.status_code == 200
    assert read.json()["title"] == "kept"
    assert current_revision(f"sqlite:///{data / 'tasks.db'}") == schema_head()
    assert (data / "tasks.db").stat().st_uid == uid


def test_it_runs_as_a_user_other_than_root(image: Image, tmp_path: Path) -> None:
    with container.container(image.tag) as working:
        uid = working.run("id", "-u").stdout.strip()
    with container.serving(image.tag, closed_port(), tmp_path / "log", environment=NO_AUTHENTICATION) as served:
        server_uid = _uid(served.server_pid())

    assert uid not in ("", "0")
    assert server_uid == int(uid)


def test_sigterm_stops_it_with_status_0_well_within_the_grace(image: Image, tmp_path: Path) -> None:
    with container.serving(image.tag, closed_port(), tmp_path / "log", environment=NO_AUTHENTICATION) as served:
        status, took = _stop(served)

    MEASUREMENTS["container stop on SIGTERM, idle (s)"] = f"{took:.2f}"
    assert status == 0, served.log
    assert took < DOCKER_STOP_TIMEOUT


def test_the_health_check_passes_while_it_serves_and_fails_once_it_has_stopped(image: Image, tmp_path: Path) -> None:
    declared = image.config["Healthcheck"]["Test"][1:]
    port = closed_port()
    # The declared check asks port 8000, the command's own; the test's server listens on a free port instead.
    check = [part.replace("127.0.0.1:8000", f"127.0.0.1:{port}") for part in declared]
    assert check != declared
    with container.container(image.tag) as checker:
        with container.serving(image.tag, port, tmp_path / "log", environment=NO_AUTHENTICATION) as served:
            healthy = checker.run(*check)
            _stop(served)
        stopped = checker.run(*check)

    assert healthy.returncode == 0, healthy.stderr
    assert stopped.returncode != 0


def test_the_image_holds_no_build_tools_tests_nor_git(image: Image) -> None:
    with container.root_filesystem(image.tag) as root:
        found = {str(path.relative_to(root)) for path in root.rglob("*")}
        venv = next(root.glob("app/venv/lib/python3*/site-packages"))
        installed = {path.name for path in venv.iterdir()}

    executables = {Path(path).name for path in found if Path(path).parent.name in ("bin", "sbin")}
    assert not {name for name in found if Path(name).name == ".git"}
    assert not executables & {"uv", "uvx", "gcc", "cc", "c++", "make", "pip", "pip3"}
    assert not {path for path in found if path.startswith(("src/", "opt/uv"))}
    assert "tests" not in installed
    assert "pip" not in installed
    assert "tasks_api" in installed
