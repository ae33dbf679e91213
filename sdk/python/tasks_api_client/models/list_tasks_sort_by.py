from enum import StrEnum


class ListTasksSortBy(StrEnum):
    CREATED_AT = "created_at"
    DUE_AT = "due_at"
    PRIORITY = "priority"
    TITLE = "title"
    UPDATED_AT = "updated_at"

    def __str__(self) -> str:
        return str(self.value)
