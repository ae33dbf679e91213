from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar
from uuid import UUID

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.task import Task


T = TypeVar("T", bound="TaskChange")


@_attrs_define
class TaskChange:
    """A task that changed (`deleted` false, with `task`) or was deleted (`deleted` true, with `deleted_at`).

    Attributes:
        id (UUID):
        deleted (bool):
        task (Task | Unset):  Example: {'id': 'e5a13d4f-7e56-45d4-9df1-c405eb31cd57', 'title': 'Buy milk',
            'description': 'Two litres, semi-skimmed', 'is_completed': False, 'created_at': '2026-12-07T06:58:28.988828Z',
            'updated_at': '2026-12-07T06:58:28.988828Z', 'user_id': '7c9e6679-7425-40de-944b-e07fc1f90ae7', 'priority':
            'High', 'tags': ['errands'], 'due_at': '2026-12-24T17:00:00.000000Z'}.
        deleted_at (datetime.datetime | Unset):
    """

    id: UUID
    deleted: bool
    task: Task | Unset = UNSET
    deleted_at: datetime.datetime | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        id = str(self.id)

        deleted = self.deleted

        task: dict[str, Any] | Unset = UNSET
        if not isinstance(self.task, Unset):
            task = self.task.to_dict()

        deleted_at: str | Unset = UNSET
        if not isinstance(self.deleted_at, Unset):
            deleted_at = self.deleted_at.isoformat()

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "id": id,
                "deleted": deleted,
            }
        )
        if task is not UNSET:
            field_dict["task"] = task
        if deleted_at is not UNSET:
            field_dict["deleted_at"] = deleted_at

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.task import Task  # noqa: PLC0415

        d = dict(src_dict)
        id = UUID(d.pop("id"))

        deleted = d.pop("deleted")

        _task = d.pop("task", UNSET)
        task: Task | Unset
        if isinstance(_task, Unset):
            task = UNSET
        else:
            task = Task.from_dict(_task)

        _deleted_at = d.pop("deleted_at", UNSET)
        deleted_at: datetime.datetime | Unset
        if isinstance(_deleted_at, Unset):
            deleted_at = UNSET
        else:
            deleted_at = datetime.datetime.fromisoformat(_deleted_at)

        task_change = cls(
            id=id,
            deleted=deleted,
            task=task,
            deleted_at=deleted_at,
        )

        task_change.additional_properties = d
        return task_change

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())

    def __getitem__(self, key: str) -> Any:
        return self.additional_properties[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.additional_properties[key] = value

    def __delitem__(self, key: str) -> None:
        del self.additional_properties[key]

    def __contains__(self, key: str) -> bool:
        return key in self.additional_properties
