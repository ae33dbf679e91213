"""The route table read from the spec: the methods of a path, and the template of an operation."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from tasks_api.routes import RouteTable
from tasks_api.specification import SPEC_PATH

SPEC: dict[str, Any] = yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))
ROUTES = RouteTable.from_spec(SPEC)
ID = "0b6f3c1e-9a55-4a43-8f0e-0d1d4c2f2a6b"


@pytest.mark.parametrize(
    ("path", "allow"),
    [
        (f"/api/{ID}/tasks", "GET, POST, HEAD"),
        (f"/api/{ID}/tasks/{ID}", "GET, PUT, DELETE, HEAD"),
        (f"/api/{ID}/tasks/metrics", "GET, HEAD"),
        (f"/api/{ID}/tasks/changes", "GET, HEAD"),
        (f"/api/{ID}/tasks/{ID}/complete", "PATCH"),
        ("/api/health/live", "GET, HEAD"),
        (f"/api/{ID}/tasks/{ID}/complete/more", None),
        (f"/{ID}/tasks", None),
        ("/api/a/b/tasks", None),
    ],
)
def test_allow_lists_the_methods_the_spec_gives_a_path(path: str, allow: str | None) -> None:
    assert ROUTES.allow(path) == allow


@pytest.mark.parametrize(
    ("operation_id", "template"),
    [
        ("handlers.tasks.get_task", "/api/{user_id}/tasks/{task_id}"),
        ("handlers.tasks.toggle_task", "/api/{user_id}/tasks/{task_id}/complete"),
        ("handlers.health.ready", "/api/health/ready"),
        ("handlers.tasks.nothing", None),
    ],
)
def test_each_operation_has_its_path_template(operation_id: str, template: str | None) -> None:
    assert ROUTES.template(operation_id) == template


def test_a_fixed_path_that_another_paths_parameter_would_match_shadows_it() -> None:
    assert sorted(route.template for route in ROUTES.shadowing()) == [
        "/api/{user_id}/tasks/changes",
        "/api/{user_id}/tasks/metrics",
    ]
