"""The contract, ``openapi/tasks.yaml``, as read from disk; and what an omitted body property means."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import yaml

SPEC_PATH = Path(__file__).resolve().parent.parent / "openapi" / "tasks.yaml"


def load_specification() -> dict[str, Any]:
    """A fresh copy of the contract (the app changes its copy for the modes it serves)."""
    specification: dict[str, Any] = yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))
    return specification


@functools.cache
def body_defaults(schema_name: str) -> dict[str, Any]:
    """Each property of a body schema that has a default, and the default: what leaving the property out of
    that body means (a full replace's "Medium", no tags, no due date). Shared: callers never change them."""
    schemas = load_specification()["components"]["schemas"]

    def resolved(schema: dict[str, Any]) -> dict[str, Any]:
        reference = schema.get("$ref")
        return resolved(schemas[reference.rsplit("/", 1)[-1]]) if reference else schema

    properties = resolved(schemas[schema_name])["properties"].items()
    return {name: resolved(schema)["default"] for name, schema in properties if "default" in resolved(schema)}
