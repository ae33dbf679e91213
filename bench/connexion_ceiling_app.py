"""The ceiling of the service's Connexion app for get-one: the service's Connexion app, spec and validation, but a
handler that answers a constant without touching a database. ``bench/compare.py`` runs it beside the floor,
to show how much of the floor's budget Connexion itself takes.
Start: ``uvicorn connexion_ceiling_app:app --app-dir bench``."""

from __future__ import annotations

from typing import Any

import yaml
from starlette.responses import Response

from tasks_api.app import connexion_app
from tasks_api.auth import without_authentication
from tasks_api.specification import SPEC_PATH

TASK = b'{"id": "0b6f3c1e-9a55-4a43-8f0e-0d1d4c2f2a6b", "title": "constant"}'


async def get_task(user_id: str, task_id: str) -> Response:
    return Response(TASK, 200, media_type="application/json")


def _get_one_only() -> dict[str, Any]:
    specification: dict[str, Any] = yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))
    operation = specification["paths"]["/{user_id}/tasks/{task_id}"]["get"]
    operation["x-openapi-router-controller"] = __name__
    specification["paths"] = {"/{user_id}/tasks/{task_id}": {"get": operation}}
    return without_authentication(specification)


app = connexion_app(_get_one_only())
