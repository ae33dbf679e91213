from enum import StrEnum


class HealthStatus(StrEnum):
    LIVE = "live"
    READY = "ready"

    def __str__(self) -> str:
        return str(self.value)
