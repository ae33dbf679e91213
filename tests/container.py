"""The Containerfile's image, built and run with Debian's podman and buildah, for tests/system/test_container.py.

No image registry is needed: the base image is made from Debian's packages with mmdebstrap and kept, as a tarball
keyed by the command that made it, for the next run. Containers run with ``buildah run --isolation chroot``, on
the host's network, because ``podman run`` cannot set resource limits on the CI machines."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests import processes
from tests.support import answers

PROJECT_ROOT = Path(__file__).resolve().parents[1]
REQUIRE_CONTAINER = os.environ.get("TASKS_API_REQUIRE_CONTAINER") == "1"
TOOLS = ("podman", "buildah", "mmdebstrap", "ss")
BASE_COMMAND = (
    "mmdebstrap",
    "--format=tar",
    "--variant=minbase",
    "--include=python3,python3-venv,ca-certificates",
    "bookworm",
)
BASE_KEY = hashlib.sha256(" ".join(BASE_COMMAND).encode()).hexdigest()[:16]
BASE_IMAGE = f"localhost/tasks-api-test-base:{BASE_KEY}"
CACHE = Path(os.environ.get("TASKS_API_CONTAINER_CACHE", "/var/cache/tasks-api-ci"))
# The registries are reached through this machine's CA bundle, which the base's own bundle does not hold.
CA_BUNDLE = Path(os.environ.get("SSL_CERT_FILE", "/etc/ssl/certs/ca-certificates.crt"))


def require_tools() -> None:
    """Skip (or, where containers are required, fail) when the tools are missing or cannot work here."""
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        problem = f"needs {', '.join(missing)} (apt-get install podman buildah mmdebstrap iproute2)"
    elif os.geteuid() != 0:
        problem = "builds and runs images as root (chroot isolation)"
    else:
        return
    if REQUIRE_CONTAINER:
        pytest.fail(problem)
    pytest.skip(problem)


# Making and building images takes a core or two for up to a minute, beside the other test workers' tests that
# time answers under load: at the lowest CPU priority, it waits for them instead of slowing them.
_IN_THE_BACKGROUND = ("nice", "-n", "19")


def _run(arguments: Sequence[str], *, timeout: float = 120) -> str:
    ran = processes.run(arguments, timeout=timeout, capture_output=True, text=True)
    assert ran.returncode == 0, f"{' '.join(arguments)} exited with {ran.returncode}:\n{ran.stderr[-4000:]}"
    output: str = ran.stdout
    return output


def _cache_directory() -> Path:
    """CACHE where it can be written, so the next run finds the base; a directory of this run's otherwise."""
    with suppress(OSError):
        CACHE.mkdir(parents=True, exist_ok=True)
    if os.access(CACHE, os.W_OK):
        return CACHE
    return Path(tempfile.mkdtemp(prefix="tasks-api-container-"))


def base_image() -> str:
    """BASE_IMAGE in podman's storage: already there, imported from the cached tarball, or made anew."""
    if processes.run(["podman", "image", "exists", BASE_IMAGE], timeout=60).returncode == 0:
        return BASE_IMAGE
    tarball = _cache_directory() / f"base-{BASE_KEY}.tar"
    if not tarball.exists():
        # Written aside and renamed: a run stopped midway leaves no truncated base for the next one.
        partial = tarball.with_suffix(f".{os.getpid()}.partial")
        try:
            _run([*_IN_THE_BACKGROUND, *BASE_COMMAND, str(partial)], timeout=900)
            partial.rename(tarball)
        finally:
            partial.unlink(missing_ok=True)
    _run([*_IN_THE_BACKGROUND, "podman", "import", str(tarball), BASE_IMAGE], timeout=300)
    return BASE_IMAGE


def build(tag: str, base: str, scratch: Path) -> None:
    """``podman build`` of the Containerfile on ``base``, with podman's layer cache."""
    command = [*_IN_THE_BACKGROUND, "podman", "build", "--pull=never", "--isolation=chroot", "--format", "docker"]
    if CA_BUNDLE.is_file():
        # For the build's downloads only: mounts are not part of the image.
        uv_config = scratch / "uv.toml"
        uv_config.write_text("system-certs = true\n")
        command += [
            "-v",
            f"{CA_BUNDLE}:/etc/ssl/certs/ca-certificates.crt:ro",
            "-v",
            f"{uv_config}:/etc/uv/uv.toml:ro",
        ]
    command += ["--build-arg", f"BASE_IMAGE={base}", "-t", tag, str(PROJECT_ROOT)]
    _run(command, timeout=1200)


def remove_image(tag: str) -> None:
    processes.run(["podman", "rmi", "--force", tag], timeout=120, capture_output=True)


def image_config(tag: str) -> dict[str, Any]:
    """The image's configuration: Cmd, User, StopSignal, Volumes... and Healthcheck, which podman's inspect puts
    beside the rest."""
    inspected = json.loads(_run(["podman", "image", "inspect", tag]))[0]
    return {**inspected["Config"], "Healthcheck": inspected.get("Healthcheck")}


def image_size(tag: str) -> int:
    return int(_run(["podman", "image", "inspect", "--format", "{{.Size}}", tag]).strip())


@dataclass(frozen=True)
class Container:
    """A buildah working container of an image."""

    name: str

    def command(
        self, *command: str, environment: dict[str, str] | None = None, volumes: Sequence[str] = ()
    ) -> list[str]:
        """The ``buildah run`` command line running ``command`` in the container as the image's user."""
        options = [f"--env={name}={value}" for name, value in (environment or {}).items()]
        options += [f"--volume={volume}" for volume in volumes]
        return ["buildah", "run", "--isolation", "chroot", *options, self.name, "--", *command]

    def run(
        self, *command: str, environment: dict[str, str] | None = None, timeout: float = 60
    ) -> subprocess.CompletedProcess[Any]:
        """``command``'s completed process, its output as text."""
        return processes.run(
            self.command(*command, environment=environment), timeout=timeout, capture_output=True, text=True
        )


@contextmanager
def container(image: str) -> Iterator[Container]:
    """A new working container of ``image``, removed when the block ends."""
    name = _run(["buildah", "from", "--pull=never", "--quiet", image]).strip()
    try:
        yield Container(name)
    finally:
        processes.run(["buildah", "rm", name], timeout=120, capture_output=True)


@contextmanager
def root_filesystem(image: str) -> Iterator[Path]:
    """The files of ``image``, mounted read from the host for the block."""
    with container(image) as working:
        mounted = Path(_run(["buildah", "mount", working.name]).strip())
        try:
            yield mounted
        finally:
            processes.run(["buildah", "umount", working.name], timeout=120, capture_output=True)


class Served:
    """The image's own command in a container, on ``port`` of the host's network; its log in ``log_file``."""

    def __init__(self, process: subprocess.Popen[bytes], port: int, log_file: Path) -> None:
        self.process = process
        self.port = port
        self.log_file = log_file
        self.base_url = f"http://127.0.0.1:{port}"

    @property
    def log(self) -> str:
        return self.log_file.read_text(errors="replace")

    def server_pid(self) -> int:
        """The serving process itself, found by its listening socket: a signal to ``buildah run`` kills its child
        outright instead of passing the signal on."""
        listening = _run(["ss", "-ltnpH", f"sport = :{self.port}"])
        found = re.search(r"pid=(\d+)", listening)
        assert found, f"nothing listens on {self.port}:\n{self.log}"
        return int(found.group(1))

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not answers(f"{self.base_url}/api/health/live"):
            assert self.process.poll() is None, f"the container exited with {self.process.returncode}:\n{self.log}"
            assert time.monotonic() < deadline, f"not serving after {timeout} s:\n{self.log}"
            time.sleep(0.05)


@contextmanager
def serving(
    image: str, port: int, log_file: Path, *, environment: dict[str, str], volumes: Sequence[str] = ()
) -> Iterator[Served]:
    """Runs the image's command (with ``--port``) in a new container; yields once it answers, and stops whatever
    is left of it when the block ends."""
    command = [*image_config(image)["Cmd"], "--port", str(port)]
    with container(image) as working, log_file.open("wb") as log:
        process = processes.start(
            working.command(*command, environment=environment, volumes=volumes),
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
        try:
            served = Served(process, port, log_file)
            served.wait_ready()
            yield served
        finally:
            processes.kill(process)
