from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="TaskMetrics")


@_attrs_define
class TaskMetrics:
    """
    Example:
        {'total': 2, 'completed': 0, 'pending': 2, 'overdue': 0, 'high_priority': 1, 'medium_priority': 1,
            'low_priority': 0}

    Attributes:
        total (int):
        completed (int):
        pending (int):
        overdue (int): Open tasks whose due date has passed.
        high_priority (int):
        medium_priority (int):
        low_priority (int):
    """

    total: int
    completed: int
    pending: int
    overdue: int
    high_priority: int
    medium_priority: int
    low_priority: int
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        total = self.total

        completed = self.completed

        pending = self.pending

        overdue = self.overdue

        high_priority = self.high_priority

        medium_priority = self.medium_priority

        low_priority = self.low_priority

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "total": total,
                "completed": completed,
                "pending": pending,
                "overdue": overdue,
                "high_priority": high_priority,
                "medium_priority": medium_priority,
                "low_priority": low_priority,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        total = d.pop("total")

        completed = d.pop("completed")

        pending = d.pop("pending")

        overdue = d.pop("overdue")

        high_priority = d.pop("high_priority")

        medium_priority = d.pop("medium_priority")

        low_priority = d.pop("low_priority")

        task_metrics = cls(
            total=total,
            completed=completed,
            pending=pending,
            overdue=overdue,
            high_priority=high_priority,
            medium_priority=medium_priority,
            low_priority=low_priority,
        )

        task_metrics.additional_properties = d
        return task_metrics

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
