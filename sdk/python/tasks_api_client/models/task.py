from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar, cast
from uuid import UUID

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.priority import Priority

T = TypeVar("T", bound="Task")


@_attrs_define
class Task:
    """
    Example:
        {'id': 'e5a13d4f-7e56-45d4-9df1-c405eb31cd57', 'title': 'Buy milk', 'description': 'Two litres, semi-skimmed',
            'is_completed': False, 'created_at': '2026-12-07T06:58:28.988828Z', 'updated_at': '2026-12-07T06:58:28.988828Z',
            'user_id': '7c9e6679-7425-40de-944b-e07fc1f90ae7', 'priority': 'High', 'tags': ['errands'], 'due_at':
            '2026-12-24T17:00:00.000000Z'}

    Attributes:
        id (UUID):
        title (str):
        description (None | str):
        is_completed (bool):
        created_at (datetime.datetime):
        updated_at (datetime.datetime):
        user_id (str): The owner's id, as the service is configured (`TASKS_API_USER_IDS`): `uuid` (the default), a
            UUID; `opaque`,
            the identity provider's own id (Better Auth, Clerk, Auth0, Firebase ...), 1-128 letters, digits and
            `-_.|:@` starting with a letter or digit, compared exactly, except that a UUID is compared in lower case.
            Clients take it as a plain string in both modes.
             Example: 7c9e6679-7425-40de-944b-e07fc1f90ae7.
        priority (Priority):
        tags (list[str]): Trimmed, lower-cased and sorted; empty when none.
        due_at (datetime.datetime | None):
    """

    id: UUID
    title: str
    description: None | str
    is_completed: bool
    created_at: datetime.datetime
    updated_at: datetime.datetime
    user_id: str
    priority: Priority
    tags: list[str]
    due_at: datetime.datetime | None
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        id = str(self.id)

        title = self.title

        description: None | str
        description = self.description

        is_completed = self.is_completed

        created_at = self.created_at.isoformat()

        updated_at = self.updated_at.isoformat()

        user_id = self.user_id

        priority = self.priority.value

        tags = self.tags

        due_at: None | str
        if isinstance(self.due_at, datetime.datetime):
            due_at = self.due_at.isoformat()
        else:
            due_at = self.due_at

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "id": id,
                "title": title,
                "description": description,
                "is_completed": is_completed,
                "created_at": created_at,
                "updated_at": updated_at,
                "user_id": user_id,
                "priority": priority,
                "tags": tags,
                "due_at": due_at,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        id = UUID(d.pop("id"))

        title = d.pop("title")

        def _parse_description(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        description = _parse_description(d.pop("description"))

        is_completed = d.pop("is_completed")

        created_at = datetime.datetime.fromisoformat(d.pop("created_at"))

        updated_at = datetime.datetime.fromisoformat(d.pop("updated_at"))

        user_id = d.pop("user_id")

        priority = Priority(d.pop("priority"))

        tags = cast(list[str], d.pop("tags"))

        def _parse_due_at(data: object) -> datetime.datetime | None:
            if data is None:
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                due_at_type_0 = datetime.datetime.fromisoformat(data)

                return due_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None, data)

        due_at = _parse_due_at(d.pop("due_at"))

        task = cls(
            id=id,
            title=title,
            description=description,
            is_completed=is_completed,
            created_at=created_at,
            updated_at=updated_at,
            user_id=user_id,
            priority=priority,
            tags=tags,
            due_at=due_at,
        )

        task.additional_properties = d
        return task

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
