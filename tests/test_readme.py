"""The README's walk through the API runs as written against a real ``tasks-api serve``."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from tests.support import serving

README = Path(__file__).resolve().parent.parent / "README.md"


def _by_example() -> str:
    section = README.read_text().split("## The API by example", 1)[1]
    return re.search(r"```sh\n(.*?)```", section, re.DOTALL).group(1)  # type: ignore[union-attr]


def test_the_api_by_example_runs_as_written(tmp_path: Path) -> None:
    with serving(f"sqlite:///{tmp_path / 'tasks.db'}") as server:
        script = _by_example().replace("http://127.0.0.1:8000", server.base_url)
        ran = subprocess.run(["bash", "-euo", "pipefail", "-c", script], capture_output=True, text=True, timeout=60)

    assert ran.returncode == 0, ran.stderr
    statuses = re.findall(r"HTTP/1.1 (\d+)", ran.stdout)
    assert statuses == ["201", "200", "204", "404"]
    assert re.search(r"^etag: \"1\"", ran.stdout, re.MULTILINE | re.IGNORECASE)
    assert '"title":"Buy oat milk"' in ran.stdout
    assert '"is_completed":true' in ran.stdout
