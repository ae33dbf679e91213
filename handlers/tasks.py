"""Handlers for /api/{user_id}/tasks. Connexion has validated every argument against the spec."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from connexion import request
from connexion.lifecycle import ConnexionResponse

from db import tasks
from db.database import Database

# Explicit, because these operations also declare problem+json responses (connexion#1956).
JSON = {"Content-Type": "application/json"}

Reply = tuple[Any, int, dict[str, str]]


def _database() -> Database:
    database: Database = request.state.database
    return database


async def list_tasks(user_id: str) -> Reply:
    async with _database().transaction() as connection:
        items = await tasks.list_tasks(connection, UUID(user_id))
    return {"items": items, "count": len(items)}, 200, JSON


async def create_task(user_id: str, body: dict[str, Any]) -> Reply:
    async with _database().transaction() as connection:
        task = await tasks.create_task(connection, UUID(user_id), body["title"], body.get("description"))
    return task, 201, {**JSON, "Location": f"{request.url.path}/{task['id']}"}


async def get_task(user_id: str, task_id: str) -> Reply:
    async with _database().transaction() as connection:
        task = await tasks.get_task(connection, UUID(user_id), UUID(task_id))
    return task, 200, JSON


async def update_task(user_id: str, task_id: str, body: dict[str, Any]) -> Reply:
    async with _database().transaction() as connection:
        task = await tasks.update_task(
            connection,
            UUID(user_id),
            UUID(task_id),
            title=body["title"],
            description=body.get("description"),
            is_completed=body["is_completed"],
        )
    return task, 200, JSON


async def delete_task(user_id: str, task_id: str) -> ConnexionResponse:
    async with _database().transaction() as connection:
        await tasks.delete_task(connection, UUID(user_id), UUID(task_id))
    return ConnexionResponse(status_code=204)


async def toggle_task(user_id: str, task_id: str) -> Reply:
    async with _database().transaction() as connection:
        task = await tasks.toggle_task(connection, UUID(user_id), UUID(task_id))
    return task, 200, JSON
