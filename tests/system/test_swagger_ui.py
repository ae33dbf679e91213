"""Swagger UI in a real browser against a live ``tasks-api serve`` with authentication on, in both user-id modes:
the Authorize dialog says how to get a token for the spec's example user, and with one, "Try it out" on create
(201) and on list (the task is there) as Swagger UI fills them in. The screenshot is kept in reports/."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tasks_api.specification import load_specification
from tasks_api.user_ids import MODES
from tests import processes
from tests.support import serving
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


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("empty_database_url", ["sqlite"], indirect=True)
def test_swagger_ui_authorizes_creates_and_lists_as_it_fills_them_in(empty_database_url: str, mode: str) -> None:
    chromium = _require_browser()
    user = load_specification()["components"]["schemas"]["UserId"]["example"]
    REPORTS.mkdir(exist_ok=True)
    screenshot = REPORTS / "swagger-ui.png"
    screenshot.unlink(missing_ok=True)

    environment = {"TASKS_API_AUTH_JWT_SECRET": SECRET.decode(), "TASKS_API_USER_IDS": mode}
    with serving(empty_database_url, **environment) as server:
        completed = processes.run(
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
