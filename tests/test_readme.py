"""The README's walk through the API runs as written against a real ``tasks-api serve``."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

from tests import processes
from tests.support import serving
from tests.tokens import SECRET, hs256

README = Path(__file__).resolve().parent.parent / "README.md"


def _by_example() -> str:
    section = README.read_text().split("## The API by example", 1)[1]
    return re.search(r"```sh\n(.*?)```", section, re.DOTALL).group(1)  # type: ignore[union-attr]


def test_the_api_by_example_runs_as_written(tmp_path: Path) -> None:
    with serving(f"sqlite:///{tmp_path / 'tasks.db'}") as server:
        script = _by_example().replace("http://127.0.0.1:8000", server.base_url)
        ran = processes.run(["bash", "-euo", "pipefail", "-c", script], capture_output=True, text=True, timeout=60)

    assert ran.returncode == 0, ran.stderr
    statuses = re.findall(r"HTTP/1.1 (\d+)", ran.stdout)
    assert statuses == ["201", "200", "204", "404"]
    assert re.search(r"^etag: \"1\"", ran.stdout, re.MULTILINE | re.IGNORECASE)
    assert '"title":"Buy oat milk"' in ran.stdout
    assert '"is_completed":true' in ran.stdout


def test_the_python_client_example_runs_as_written(tmp_path: Path) -> None:
    section = README.read_text().split("## Client SDKs", 1)[1]
    example = re.search(r"```python\n(.*?)```", section, re.DOTALL).group(1)  # type: ignore[union-attr]
    user = re.search(r'^user = "([^"]+)"', example, re.MULTILINE).group(1)  # type: ignore[union-attr]
    secured = {"TASKS_API_AUTH_JWT_SECRET": SECRET.decode()}
    with serving(f"sqlite:///{tmp_path / 'tasks.db'}", **secured) as server:
        script = example.replace("http://127.0.0.1:8000", server.base_url)
        environment = {**os.environ, "TOKEN": hs256(user)}
        ran = processes.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, env=environment)

    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.startswith('201 "1" Task(')
