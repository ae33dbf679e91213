from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.problem_error_code import ProblemErrorCode
from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.field_error import FieldError


T = TypeVar("T", bound="Problem")


@_attrs_define
class Problem:
    """An RFC 9457 problem detail.

    Attributes:
        type_ (str):
        title (str):
        status (int):
        detail (str):
        error_code (ProblemErrorCode): Stable and machine-readable; each error response below names the one it carries.
        field_errors (list[FieldError] | Unset):
    """

    type_: str
    title: str
    status: int
    detail: str
    error_code: ProblemErrorCode
    field_errors: list[FieldError] | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        type_ = self.type_

        title = self.title

        status = self.status

        detail = self.detail

        error_code = self.error_code.value

        field_errors: list[dict[str, Any]] | Unset = UNSET
        if not isinstance(self.field_errors, Unset):
            field_errors = []
            for field_errors_item_data in self.field_errors:
                field_errors_item = field_errors_item_data.to_dict()
                field_errors.append(field_errors_item)

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "type": type_,
                "title": title,
                "status": status,
                "detail": detail,
                "error_code": error_code,
            }
        )
        if field_errors is not UNSET:
            field_dict["field_errors"] = field_errors

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.field_error import FieldError  # noqa: PLC0415

        d = dict(src_dict)
        type_ = d.pop("type")

        title = d.pop("title")

        status = d.pop("status")

        detail = d.pop("detail")

        error_code = ProblemErrorCode(d.pop("error_code"))

        _field_errors = d.pop("field_errors", UNSET)
        field_errors: list[FieldError] | Unset = UNSET
        if _field_errors is not UNSET:
            field_errors = []
            for field_errors_item_data in _field_errors:
                field_errors_item = FieldError.from_dict(field_errors_item_data)

                field_errors.append(field_errors_item)

        problem = cls(
            type_=type_,
            title=title,
            status=status,
            detail=detail,
            error_code=error_code,
            field_errors=field_errors,
        )

        problem.additional_properties = d
        return problem

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
