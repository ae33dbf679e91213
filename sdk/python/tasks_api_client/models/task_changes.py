from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.task_change import TaskChange


T = TypeVar("T", bound="TaskChanges")


@_attrs_define
class TaskChanges:
    """
    Example:
        {'changes': [{'id': '5e22d703-dc7d-4528-accc-9a465c7896d9', 'deleted': False, 'task': {'id':
            '5e22d703-dc7d-4528-accc-9a465c7896d9', 'title': 'Call the plumber', 'description': None, 'is_completed': True,
            'created_at': '2026-12-07T06:58:29.027546Z', 'updated_at': '2026-12-07T08:12:40.112233Z', 'user_id':
            '7c9e6679-7425-40de-944b-e07fc1f90ae7', 'priority': 'Medium', 'tags': [], 'due_at': None}}, {'id':
            'e5a13d4f-7e56-45d4-9df1-c405eb31cd57', 'deleted': True, 'deleted_at': '2026-12-07T08:13:02.000500Z'}],
            'next_since': 'WzEsMjQ0LCI1ZTIyZDcwMyJd.3kq2S8wNfV1qS0bX2cJmVw', 'has_more': False}

    Attributes:
        changes (list[TaskChange]):
        next_since (str): Pass as `since` to continue; keep the last one for the next sync.
        has_more (bool): More changes follow at once; ask again with `next_since`.
    """

    changes: list[TaskChange]
    next_since: str
    has_more: bool
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        changes = []
        for changes_item_data in self.changes:
            changes_item = changes_item_data.to_dict()
            changes.append(changes_item)

        next_since = self.next_since

        has_more = self.has_more

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "changes": changes,
                "next_since": next_since,
                "has_more": has_more,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.task_change import TaskChange  # noqa: PLC0415

        d = dict(src_dict)
        changes = []
        _changes = d.pop("changes")
        for changes_item_data in _changes:
            changes_item = TaskChange.from_dict(changes_item_data)

            changes.append(changes_item)

        next_since = d.pop("next_since")

        has_more = d.pop("has_more")

        task_changes = cls(
            changes=changes,
            next_since=next_since,
            has_more=has_more,
        )

        task_changes.additional_properties = d
        return task_changes

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
