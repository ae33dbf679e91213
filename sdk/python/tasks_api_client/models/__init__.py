"""Contains all the data models used in inputs/outputs"""

from .field_error import FieldError
from .health import Health
from .health_status import HealthStatus
from .list_tasks_sort_by import ListTasksSortBy
from .list_tasks_status import ListTasksStatus
from .priority import Priority
from .problem import Problem
from .problem_error_code import ProblemErrorCode
from .sort_order import SortOrder
from .task import Task
from .task_change import TaskChange
from .task_changes import TaskChanges
from .task_create import TaskCreate
from .task_list import TaskList
from .task_metrics import TaskMetrics
from .task_sort import TaskSort
from .task_update import TaskUpdate

__all__ = (
    "FieldError",
    "Health",
    "HealthStatus",
    "ListTasksSortBy",
    "ListTasksStatus",
    "Priority",
    "Problem",
    "ProblemErrorCode",
    "SortOrder",
    "Task",
    "TaskChange",
    "TaskChanges",
    "TaskCreate",
    "TaskList",
    "TaskMetrics",
    "TaskSort",
    "TaskUpdate",
)
