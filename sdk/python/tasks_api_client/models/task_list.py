from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.task import Task


T = TypeVar("T", bound="TaskList")


@_attrs_define
class TaskList:
    """
    Example:
        {'items': [{'id': '5e22d703-dc7d-4528-accc-9a465c7896d9', 'title': 'Call the plumber', 'description': None,
            'is_completed': False, 'created_at': '2026-12-07T06:58:29.027546Z', 'updated_at': '2026-12-07T06:58:29.027546Z',
            'user_id': '7c9e6679-7425-40de-944b-e07fc1f90ae7', 'priority': 'Medium', 'tags': [], 'due_at': None}], 'count':
            2, 'next_cursor': 'WyIyMDI2LTEyLTA3VDA2OjU4OjI5LjAyNzU0NloiLCI1ZTIyZDcwMy1kYzdkLTQ1MjgtYWNjYy05YTQ2NWM3ODk2ZDkiX
            Q.mjuDLbhMmKT8AwbVnOHIng'}

    Attributes:
        items (list[Task]):
        count (int): How many tasks match the filters, across all pages.
        next_cursor (None | str): Pass as `cursor` for the next page; null on the last page.
    """

    items: list[Task]
    count: int
    next_cursor: None | str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        items = []
        for items_item_data in self.items:
            items_item = items_item_data.to_dict()
            items.append(items_item)

        count = self.count

        next_cursor: None | str
        next_cursor = self.next_cursor

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "items": items,
                "count": count,
                "next_cursor": next_cursor,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.task import Task  # noqa: PLC0415

        d = dict(src_dict)
        items = []
        _items = d.pop("items")
        for items_item_data in _items:
            items_item = Task.from_dict(items_item_data)

            items.append(items_item)

        count = d.pop("count")

        def _parse_next_cursor(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        next_cursor = _parse_next_cursor(d.pop("next_cursor"))

        task_list = cls(
            items=items,
            count=count,
            next_cursor=next_cursor,
        )

        task_list.additional_properties = d
        return task_list

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
