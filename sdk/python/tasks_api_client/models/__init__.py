"""Contains all the data models used in inputs/outputs"""

from .field_error import FieldError
from .health import Health
from .health_status import HealthStatus
from .problem import Problem
from .problem_error_code import ProblemErrorCode
from .task import Task
from .task_create import TaskCreate
from .task_list import TaskList
from .task_sort import TaskSort
from .task_update import TaskUpdate

__all__ = (
    "FieldError",
    "Health",
    "HealthStatus",
    "Problem",
    "ProblemErrorCode",
    "Task",
    "TaskCreate",
    "TaskList",
    "TaskSort",
    "TaskUpdate",
)
