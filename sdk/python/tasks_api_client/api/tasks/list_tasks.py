from http import HTTPStatus
from typing import Any
from urllib.parse import quote
from uuid import UUID

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.problem import Problem
from ...models.task_list import TaskList
from ...models.task_sort import TaskSort
from ...types import UNSET, Response, Unset


def _get_kwargs(
    user_id: UUID,
    *,
    completed: bool | Unset = UNSET,
    q: str | Unset = UNSET,
    sort: TaskSort | Unset = UNSET,
    limit: int | Unset = 1000,
    cursor: str | Unset = UNSET,
    x_request_id: str | Unset = UNSET,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    if not isinstance(x_request_id, Unset):
        headers["X-Request-ID"] = x_request_id

    params: dict[str, Any] = {}

    params["completed"] = completed

    params["q"] = q

    json_sort: str | Unset = UNSET
    if not isinstance(sort, Unset):
        json_sort = sort.value

    params["sort"] = json_sort

    params["limit"] = limit

    params["cursor"] = cursor

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
    user_id: UUID,
    *,
    client: AuthenticatedClient,
    completed: bool | Unset = UNSET,
    q: str | Unset = UNSET,
    sort: TaskSort | Unset = UNSET,
    limit: int | Unset = 1000,
    cursor: str | Unset = UNSET,
    x_request_id: str | Unset = UNSET,
) -> Response[Problem | TaskList]:
    """List a user's tasks, newest first

     Filtered, searched, sorted and paginated by cursor. Without parameters: every task (up to `limit`),
    newest first. `count` is the number of tasks matching the filters, whatever the page. Follow
    `next_cursor` (with the same filters and sort) until it is null to read every page; tasks added or
    removed meanwhile never make a page repeat or skip one that existed throughout.

    Args:
        user_id (UUID):
        completed (bool | Unset):
        q (str | Unset):
        sort (TaskSort | Unset): A list's order, by a task's field; `-` for descending.
        limit (int | Unset):  Default: 1000.
        cursor (str | Unset):
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
        q=q,
        sort=sort,
        limit=limit,
        cursor=cursor,
        x_request_id=x_request_id,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    user_id: UUID,
    *,
    client: AuthenticatedClient,
    completed: bool | Unset = UNSET,
    q: str | Unset = UNSET,
    sort: TaskSort | Unset = UNSET,
    limit: int | Unset = 1000,
    cursor: str | Unset = UNSET,
    x_request_id: str | Unset = UNSET,
) -> Problem | TaskList | None:
    """List a user's tasks, newest first

     Filtered, searched, sorted and paginated by cursor. Without parameters: every task (up to `limit`),
    newest first. `count` is the number of tasks matching the filters, whatever the page. Follow
    `next_cursor` (with the same filters and sort) until it is null to read every page; tasks added or
    removed meanwhile never make a page repeat or skip one that existed throughout.

    Args:
        user_id (UUID):
        completed (bool | Unset):
        q (str | Unset):
        sort (TaskSort | Unset): A list's order, by a task's field; `-` for descending.
        limit (int | Unset):  Default: 1000.
        cursor (str | Unset):
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
        q=q,
        sort=sort,
        limit=limit,
        cursor=cursor,
        x_request_id=x_request_id,
    ).parsed


async def asyncio_detailed(
    user_id: UUID,
    *,
    client: AuthenticatedClient,
    completed: bool | Unset = UNSET,
    q: str | Unset = UNSET,
    sort: TaskSort | Unset = UNSET,
    limit: int | Unset = 1000,
    cursor: str | Unset = UNSET,
    x_request_id: str | Unset = UNSET,
) -> Response[Problem | TaskList]:
    """List a user's tasks, newest first

     Filtered, searched, sorted and paginated by cursor. Without parameters: every task (up to `limit`),
    newest first. `count` is the number of tasks matching the filters, whatever the page. Follow
    `next_cursor` (with the same filters and sort) until it is null to read every page; tasks added or
    removed meanwhile never make a page repeat or skip one that existed throughout.

    Args:
        user_id (UUID):
        completed (bool | Unset):
        q (str | Unset):
        sort (TaskSort | Unset): A list's order, by a task's field; `-` for descending.
        limit (int | Unset):  Default: 1000.
        cursor (str | Unset):
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
        q=q,
        sort=sort,
        limit=limit,
        cursor=cursor,
        x_request_id=x_request_id,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    user_id: UUID,
    *,
    client: AuthenticatedClient,
    completed: bool | Unset = UNSET,
    q: str | Unset = UNSET,
    sort: TaskSort | Unset = UNSET,
    limit: int | Unset = 1000,
    cursor: str | Unset = UNSET,
    x_request_id: str | Unset = UNSET,
) -> Problem | TaskList | None:
    """List a user's tasks, newest first

     Filtered, searched, sorted and paginated by cursor. Without parameters: every task (up to `limit`),
    newest first. `count` is the number of tasks matching the filters, whatever the page. Follow
    `next_cursor` (with the same filters and sort) until it is null to read every page; tasks added or
    removed meanwhile never make a page repeat or skip one that existed throughout.

    Args:
        user_id (UUID):
        completed (bool | Unset):
        q (str | Unset):
        sort (TaskSort | Unset): A list's order, by a task's field; `-` for descending.
        limit (int | Unset):  Default: 1000.
        cursor (str | Unset):
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
            q=q,
            sort=sort,
            limit=limit,
            cursor=cursor,
            x_request_id=x_request_id,
        )
    ).parsed
