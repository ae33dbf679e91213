from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.list_tasks_sort_by import ListTasksSortBy
from ...models.list_tasks_status import ListTasksStatus
from ...models.priority import Priority
from ...models.problem import Problem
from ...models.sort_order import SortOrder
from ...models.task_list import TaskList
from ...models.task_sort import TaskSort
from ...types import UNSET, Response, Unset


def _get_kwargs(
    user_id: str,
    *,
    completed: bool | Unset = UNSET,
    status: ListTasksStatus | Unset = UNSET,
    q: str | Unset = UNSET,
    search: str | Unset = UNSET,
    priority: Priority | Unset = UNSET,
    tags: list[str] | Unset = UNSET,
    sort: TaskSort | Unset = UNSET,
    sort_by: ListTasksSortBy | Unset = UNSET,
    sort_order: SortOrder | Unset = UNSET,
    limit: int | Unset = 1000,
    cursor: str | Unset = UNSET,
    page: int | Unset = UNSET,
    page_size: int | Unset = UNSET,
    x_request_id: str | Unset = UNSET,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    if not isinstance(x_request_id, Unset):
        headers["X-Request-ID"] = x_request_id

    params: dict[str, Any] = {}

    params["completed"] = completed

    json_status: str | Unset = UNSET
    if not isinstance(status, Unset):
        json_status = status.value

    params["status"] = json_status

    params["q"] = q

    params["search"] = search

    json_priority: str | Unset = UNSET
    if not isinstance(priority, Unset):
        json_priority = priority.value

    params["priority"] = json_priority

    json_tags: list[str] | Unset = UNSET
    if not isinstance(tags, Unset):
        json_tags = tags

    params["tags"] = json_tags

    json_sort: str | Unset = UNSET
    if not isinstance(sort, Unset):
        json_sort = sort.value

    params["sort"] = json_sort

    json_sort_by: str | Unset = UNSET
    if not isinstance(sort_by, Unset):
        json_sort_by = sort_by.value

    params["sort_by"] = json_sort_by

    json_sort_order: str | Unset = UNSET
    if not isinstance(sort_order, Unset):
        json_sort_order = sort_order.value

    params["sort_order"] = json_sort_order

    params["limit"] = limit

    params["cursor"] = cursor

    params["page"] = page

    params["page_size"] = page_size

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/{user_id}/tasks".format(
            user_id=quote(str(user_id), safe=""),
        ),
        "params": params,
    }

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Problem | TaskList | None:
    if response.status_code == 200:
        response_200 = TaskList.from_dict(response.json())

        return response_200

    if response.status_code == 400:
        response_400 = Problem.from_dict(response.json())

        return response_400

    if response.status_code == 401:
        response_401 = Problem.from_dict(response.json())

        return response_401

    if response.status_code == 403:
        response_403 = Problem.from_dict(response.json())

        return response_403

    if response.status_code == 404:
        response_404 = Problem.from_dict(response.json())

        return response_404

    if response.status_code == 431:
        response_431 = Problem.from_dict(response.json())

        return response_431

    if response.status_code == 500:
        response_500 = Problem.from_dict(response.json())

        return response_500

    if response.status_code == 503:
        response_503 = Problem.from_dict(response.json())

        return response_503

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Response[Problem | TaskList]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    user_id: str,
    *,
    client: AuthenticatedClient,
    completed: bool | Unset = UNSET,
    status: ListTasksStatus | Unset = UNSET,
    q: str | Unset = UNSET,
    search: str | Unset = UNSET,
    priority: Priority | Unset = UNSET,
    tags: list[str] | Unset = UNSET,
    sort: TaskSort | Unset = UNSET,
    sort_by: ListTasksSortBy | Unset = UNSET,
    sort_order: SortOrder | Unset = UNSET,
    limit: int | Unset = 1000,
    cursor: str | Unset = UNSET,
    page: int | Unset = UNSET,
    page_size: int | Unset = UNSET,
    x_request_id: str | Unset = UNSET,
) -> Response[Problem | TaskList]:
    """List a user's tasks, newest first

     Filtered, searched, sorted and paginated by cursor. Without parameters: every task (up to `limit`),
    newest first. `count` is the number of tasks matching the filters, whatever the page. Follow
    `next_cursor` (with the same filters and sort) until it is null to read every page; tasks added or
    removed meanwhile never make a page repeat or skip one that existed throughout.

    The original front end's parameters are taken too (`status`, `search`, `sort_by` with `sort_order`,
    and
    pages by number with `page` and `page_size`); two parameters that say the same thing differently in
    one
    request (`completed` and `status`, `q` and `search`, `sort` and `sort_by` or `sort_order`, `cursor`
    and
    `page` or `page_size`) are a 400 naming both.

    Args:
        user_id (str): The owner's id, as the service is configured (`TASKS_API_USER_IDS`): `uuid`
            (the default), a UUID; `opaque`,
            the identity provider's own id (Better Auth, Clerk, Auth0, Firebase ...), 1-128 letters,
            digits and
            `-_.|:@` starting with a letter or digit, compared exactly, except that a UUID is compared
            in lower case.
            Clients take it as a plain string in both modes.
             Example: 7c9e6679-7425-40de-944b-e07fc1f90ae7.
        completed (bool | Unset):
        status (ListTasksStatus | Unset):
        q (str | Unset):
        search (str | Unset):
        priority (Priority | Unset):
        tags (list[str] | Unset):
        sort (TaskSort | Unset): A list's order, by a task's field; `-` for descending;
            `-created_at` when neither `sort` nor `sort_by`
            is given. `priority` ranks Low below Medium below High, so `-priority` lists High first;
            tasks without a
            due date come last in both `due_at` directions.
        sort_by (ListTasksSortBy | Unset):
        sort_order (SortOrder | Unset): The direction of `sort_by`; `desc` when not given.
        limit (int | Unset):  Default: 1000.
        cursor (str | Unset):
        page (int | Unset):
        page_size (int | Unset):
        x_request_id (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | TaskList]
    """

    kwargs = _get_kwargs(
        user_id=user_id,
        completed=completed,
        status=status,
        q=q,
        search=search,
        priority=priority,
        tags=tags,
        sort=sort,
        sort_by=sort_by,
        sort_order=sort_order,
        limit=limit,
        cursor=cursor,
        page=page,
        page_size=page_size,
        x_request_id=x_request_id,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    user_id: str,
    *,
    client: AuthenticatedClient,
    completed: bool | Unset = UNSET,
    status: ListTasksStatus | Unset = UNSET,
    q: str | Unset = UNSET,
    search: str | Unset = UNSET,
    priority: Priority | Unset = UNSET,
    tags: list[str] | Unset = UNSET,
    sort: TaskSort | Unset = UNSET,
    sort_by: ListTasksSortBy | Unset = UNSET,
    sort_order: SortOrder | Unset = UNSET,
    limit: int | Unset = 1000,
    cursor: str | Unset = UNSET,
    page: int | Unset = UNSET,
    page_size: int | Unset = UNSET,
    x_request_id: str | Unset = UNSET,
) -> Problem | TaskList | None:
    """List a user's tasks, newest first

     Filtered, searched, sorted and paginated by cursor. Without parameters: every task (up to `limit`),
    newest first. `count` is the number of tasks matching the filters, whatever the page. Follow
    `next_cursor` (with the same filters and sort) until it is null to read every page; tasks added or
    removed meanwhile never make a page repeat or skip one that existed throughout.

    The original front end's parameters are taken too (`status`, `search`, `sort_by` with `sort_order`,
    and
    pages by number with `page` and `page_size`); two parameters that say the same thing differently in
    one
    request (`completed` and `status`, `q` and `search`, `sort` and `sort_by` or `sort_order`, `cursor`
    and
    `page` or `page_size`) are a 400 naming both.

    Args:
        user_id (str): The owner's id, as the service is configured (`TASKS_API_USER_IDS`): `uuid`
            (the default), a UUID; `opaque`,
            the identity provider's own id (Better Auth, Clerk, Auth0, Firebase ...), 1-128 letters,
            digits and
            `-_.|:@` starting with a letter or digit, compared exactly, except that a UUID is compared
            in lower case.
            Clients take it as a plain string in both modes.
             Example: 7c9e6679-7425-40de-944b-e07fc1f90ae7.
        completed (bool | Unset):
        status (ListTasksStatus | Unset):
        q (str | Unset):
        search (str | Unset):
        priority (Priority | Unset):
        tags (list[str] | Unset):
        sort (TaskSort | Unset): A list's order, by a task's field; `-` for descending;
            `-created_at` when neither `sort` nor `sort_by`
            is given. `priority` ranks Low below Medium below High, so `-priority` lists High first;
            tasks without a
            due date come last in both `due_at` directions.
        sort_by (ListTasksSortBy | Unset):
        sort_order (SortOrder | Unset): The direction of `sort_by`; `desc` when not given.
        limit (int | Unset):  Default: 1000.
        cursor (str | Unset):
        page (int | Unset):
        page_size (int | Unset):
        x_request_id (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | TaskList
    """

    return sync_detailed(
        user_id=user_id,
        client=client,
        completed=completed,
        status=status,
        q=q,
        search=search,
        priority=priority,
        tags=tags,
        sort=sort,
        sort_by=sort_by,
        sort_order=sort_order,
        limit=limit,
        cursor=cursor,
        page=page,
        page_size=page_size,
        x_request_id=x_request_id,
    ).parsed


async def asyncio_detailed(
    user_id: str,
    *,
    client: AuthenticatedClient,
    completed: bool | Unset = UNSET,
    status: ListTasksStatus | Unset = UNSET,
    q: str | Unset = UNSET,
    search: str | Unset = UNSET,
    priority: Priority | Unset = UNSET,
    tags: list[str] | Unset = UNSET,
    sort: TaskSort | Unset = UNSET,
    sort_by: ListTasksSortBy | Unset = UNSET,
    sort_order: SortOrder | Unset = UNSET,
    limit: int | Unset = 1000,
    cursor: str | Unset = UNSET,
    page: int | Unset = UNSET,
    page_size: int | Unset = UNSET,
    x_request_id: str | Unset = UNSET,
) -> Response[Problem | TaskList]:
    """List a user's tasks, newest first

     Filtered, searched, sorted and paginated by cursor. Without parameters: every task (up to `limit`),
    newest first. `count` is the number of tasks matching the filters, whatever the page. Follow
    `next_cursor` (with the same filters and sort) until it is null to read every page; tasks added or
    removed meanwhile never make a page repeat or skip one that existed throughout.

    The original front end's parameters are taken too (`status`, `search`, `sort_by` with `sort_order`,
    and
    pages by number with `page` and `page_size`); two parameters that say the same thing differently in
    one
    request (`completed` and `status`, `q` and `search`, `sort` and `sort_by` or `sort_order`, `cursor`
    and
    `page` or `page_size`) are a 400 naming both.

    Args:
        user_id (str): The owner's id, as the service is configured (`TASKS_API_USER_IDS`): `uuid`
            (the default), a UUID; `opaque`,
            the identity provider's own id (Better Auth, Clerk, Auth0, Firebase ...), 1-128 letters,
            digits and
            `-_.|:@` starting with a letter or digit, compared exactly, except that a UUID is compared
            in lower case.
            Clients take it as a plain string in both modes.
             Example: 7c9e6679-7425-40de-944b-e07fc1f90ae7.
        completed (bool | Unset):
        status (ListTasksStatus | Unset):
        q (str | Unset):
        search (str | Unset):
        priority (Priority | Unset):
        tags (list[str] | Unset):
        sort (TaskSort | Unset): A list's order, by a task's field; `-` for descending;
            `-created_at` when neither `sort` nor `sort_by`
            is given. `priority` ranks Low below Medium below High, so `-priority` lists High first;
            tasks without a
            due date come last in both `due_at` directions.
        sort_by (ListTasksSortBy | Unset):
        sort_order (SortOrder | Unset): The direction of `sort_by`; `desc` when not given.
        limit (int | Unset):  Default: 1000.
        cursor (str | Unset):
        page (int | Unset):
        page_size (int | Unset):
        x_request_id (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | TaskList]
    """

    kwargs = _get_kwargs(
        user_id=user_id,
        completed=completed,
        status=status,
        q=q,
        search=search,
        priority=priority,
        tags=tags,
        sort=sort,
        sort_by=sort_by,
        sort_order=sort_order,
        limit=limit,
        cursor=cursor,
        page=page,
        page_size=page_size,
        x_request_id=x_request_id,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    user_id: str,
    *,
    client: AuthenticatedClient,
    completed: bool | Unset = UNSET,
    status: ListTasksStatus | Unset = UNSET,
    q: str | Unset = UNSET,
    search: str | Unset = UNSET,
    priority: Priority | Unset = UNSET,
    tags: list[str] | Unset = UNSET,
    sort: TaskSort | Unset = UNSET,
    sort_by: ListTasksSortBy | Unset = UNSET,
    sort_order: SortOrder | Unset = UNSET,
    limit: int | Unset = 1000,
    cursor: str | Unset = UNSET,
    page: int | Unset = UNSET,
    page_size: int | Unset = UNSET,
    x_request_id: str | Unset = UNSET,
) -> Problem | TaskList | None:
    """List a user's tasks, newest first

     Filtered, searched, sorted and paginated by cursor. Without parameters: every task (up to `limit`),
    newest first. `count` is the number of tasks matching the filters, whatever the page. Follow
    `next_cursor` (with the same filters and sort) until it is null to read every page; tasks added or
    removed meanwhile never make a page repeat or skip one that existed throughout.

    The original front end's parameters are taken too (`status`, `search`, `sort_by` with `sort_order`,
    and
    pages by number with `page` and `page_size`); two parameters that say the same thing differently in
    one
    request (`completed` and `status`, `q` and `search`, `sort` and `sort_by` or `sort_order`, `cursor`
    and
    `page` or `page_size`) are a 400 naming both.

    Args:
        user_id (str): The owner's id, as the service is configured (`TASKS_API_USER_IDS`): `uuid`
            (the default), a UUID; `opaque`,
            the identity provider's own id (Better Auth, Clerk, Auth0, Firebase ...), 1-128 letters,
            digits and
            `-_.|:@` starting with a letter or digit, compared exactly, except that a UUID is compared
            in lower case.
            Clients take it as a plain string in both modes.
             Example: 7c9e6679-7425-40de-944b-e07fc1f90ae7.
        completed (bool | Unset):
        status (ListTasksStatus | Unset):
        q (str | Unset):
        search (str | Unset):
        priority (Priority | Unset):
        tags (list[str] | Unset):
        sort (TaskSort | Unset): A list's order, by a task's field; `-` for descending;
            `-created_at` when neither `sort` nor `sort_by`
            is given. `priority` ranks Low below Medium below High, so `-priority` lists High first;
            tasks without a
            due date come last in both `due_at` directions.
        sort_by (ListTasksSortBy | Unset):
        sort_order (SortOrder | Unset): The direction of `sort_by`; `desc` when not given.
        limit (int | Unset):  Default: 1000.
        cursor (str | Unset):
        page (int | Unset):
        page_size (int | Unset):
        x_request_id (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | TaskList
    """

    return (
        await asyncio_detailed(
            user_id=user_id,
            client=client,
            completed=completed,
            status=status,
            q=q,
            search=search,
            priority=priority,
            tags=tags,
            sort=sort,
            sort_by=sort_by,
            sort_order=sort_order,
            limit=limit,
            cursor=cursor,
            page=page,
            page_size=page_size,
            x_request_id=x_request_id,
        )
    ).parsed
