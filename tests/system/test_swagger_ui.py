"""Swagger UI in a real browser against a live ``tasks-api serve`` with authentication on: authorize with a dev
token, "Try it out" on create (201) and on list (the task is there). The screenshot is kept in reports/."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support import new_user, serving
from tests.tokens import SECRET, hs256

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "tests" / "browser" / "swagger_ui.mjs"
REPORTS = ROOT / "reports"


def _require_browser() -> str:
    chromium = shutil.which("chromium")
    if chromium and (SCRIPT.parent / "node_modules" / "playwright-core").is_dir():
        return chromium
    message = "needs Debian's chromium and `npm ci` in tests/browser"
    if os.environ.get("TASKS_API_REQUIRE_SDK") == "1":
        pytest.fail(message)
    pytest.skip(message)


@pytest.mark.parametrize("empty_database_url", ["sqlite"], indirect=True)
def test_swagger_ui_authorizes_creates_and_lists(empty_database_url: str) -> None:
    chromium = _require_browser()
    user = new_user()
    REPORTS.mkdir(exist_ok=True)
    screenshot = REPORTS / "swagger-ui.png"
    screenshot.unlink(missing_ok=True)

    with serving(empty_database_url, TASKS_API_AUTH_JWT_SECRET=SECRET.decode()) as server:
        completed = subprocess.run(
            ["node", str(SCRIPT)],
            env={
                **os.environ,
                "TASKS_API_URL": server.base_url,
                "TASKS_API_USER": user,
                "TASKS_API_TOKEN": hs256(user, ttl=600),
                "OUTPUT": str(REPORTS),
                "CHROMIUM": chromium,
            },
            capture_output=True,
            text=True,
            timeout=180,
        )

    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "created 201 and listed" in completed.stdout
    assert screenshot.stat().st_size > 0
