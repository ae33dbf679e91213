from http import HTTPStatus
from typing import Any, cast
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.problem import Problem
from ...models.task_changes import TaskChanges
from ...types import UNSET, Response, Unset


def _get_kwargs(
    user_id: str,
    *,
    since: str | Unset = UNSET,
    limit: int | Unset = 1000,
    if_none_match: str | Unset = UNSET,
    x_request_id: str | Unset = UNSET,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    if not isinstance(if_none_match, Unset):
        headers["If-None-Match"] = if_none_match

    if not isinstance(x_request_id, Unset):
        headers["X-Request-ID"] = x_request_id

    params: dict[str, Any] = {}

    params["since"] = since

    params["limit"] = limit

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/{user_id}/tasks/changes".format(
            user_id=quote(str(user_id), safe=""),
        ),
        "params": params,
    }

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Any | Problem | TaskChanges | None:
    if response.status_code == 200:
        response_200 = TaskChanges.from_dict(response.json())

        return response_200

    if response.status_code == 304:
        response_304 = cast(Any, None)
        return response_304

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

    if response.status_code == 410:
        response_410 = Problem.from_dict(response.json())

        return response_410

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


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[Any | Problem | TaskChanges]:
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
    since: str | Unset = UNSET,
    limit: int | Unset = 1000,
    if_none_match: str | Unset = UNSET,
    x_request_id: str | Unset = UNSET,
) -> Response[Any | Problem | TaskChanges]:
    """What changed in a user's tasks since a sync token

     A changes feed for keeping a local copy: each task that changed since `since` once, in its latest
    state,
    or, if it was deleted, as a deletion; oldest change first. Without `since`: every current task (no
    deletions), which is how a copy starts. Follow `next_since` while `has_more` is true, then keep the
    last
    `next_since` for the next sync. Nothing is missed or given twice, whatever is written meanwhile.

    Deletions are kept for 30 days: a `since` from a copy last brought up to date (read to the end of
    the feed)
    longer ago than that is a 410 `SYNC_EXPIRED`, and the copy starts again without `since`. Poll
    cheaply
    with `If-None-Match` and the last answer's `ETag`: 304 while nothing changed.

    Args:
        user_id (str): The owner's id, as the service is configured (`TASKS_API_USER_IDS`): `uuid`
            (the default), a UUID; `opaque`,
            the identity provider's own id (Better Auth, Clerk, Auth0, Firebase ...), 1-128 letters,
            digits and
            `-_.|:@` starting with a letter or digit, compared exactly, except that a UUID is compared
            in lower case.
            Clients take it as a plain string in both modes.
             Example: 7c9e6679-7425-40de-944b-e07fc1f90ae7.
        since (str | Unset):
        limit (int | Unset):  Default: 1000.
        if_none_match (str | Unset):
        x_request_id (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Any | Problem | TaskChanges]
    """

    kwargs = _get_kwargs(
        user_id=user_id,
        since=since,
        limit=limit,
        if_none_match=if_none_match,
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
    since: str | Unset = UNSET,
    limit: int | Unset = 1000,
    if_none_match: str | Unset = UNSET,
    x_request_id: str | Unset = UNSET,
) -> Any | Problem | TaskChanges | None:
    """What changed in a user's tasks since a sync token

     A changes feed for keeping a local copy: each task that changed since `since` once, in its latest
    state,
    or, if it was deleted, as a deletion; oldest change first. Without `since`: every current task (no
    deletions), which is how a copy starts. Follow `next_since` while `has_more` is true, then keep the
    last
    `next_since` for the next sync. Nothing is missed or given twice, whatever is written meanwhile.

    Deletions are kept for 30 days: a `since` from a copy last brought up to date (read to the end of
    the feed)
    longer ago than that is a 410 `SYNC_EXPIRED`, and the copy starts again without `since`. Poll
    cheaply
    with `If-None-Match` and the last answer's `ETag`: 304 while nothing changed.

    Args:
        user_id (str): The owner's id, as the service is configured (`TASKS_API_USER_IDS`): `uuid`
            (the default), a UUID; `opaque`,
            the identity provider's own id (Better Auth, Clerk, Auth0, Firebase ...), 1-128 letters,
            digits and
            `-_.|:@` starting with a letter or digit, compared exactly, except that a UUID is compared
            in lower case.
            Clients take it as a plain string in both modes.
             Example: 7c9e6679-7425-40de-944b-e07fc1f90ae7.
        since (str | Unset):
        limit (int | Unset):  Default: 1000.
        if_none_match (str | Unset):
        x_request_id (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Any | Problem | TaskChanges
    """

    return sync_detailed(
        user_id=user_id,
        client=client,
        since=since,
        limit=limit,
        if_none_match=if_none_match,
        x_request_id=x_request_id,
    ).parsed


async def asyncio_detailed(
    user_id: str,
    *,
    client: AuthenticatedClient,
    since: str | Unset = UNSET,
    limit: int | Unset = 1000,
    if_none_match: str | Unset = UNSET,
    x_request_id: str | Unset = UNSET,
) -> Response[Any | Problem | TaskChanges]:
    """What changed in a user's tasks since a sync token

     A changes feed for keeping a local copy: each task that changed since `since` once, in its latest
    state,
    or, if it was deleted, as a deletion; oldest change first. Without `since`: every current task (no
    deletions), which is how a copy starts. Follow `next_since` while `has_more` is true, then keep the
    last
    `next_since` for the next sync. Nothing is missed or given twice, whatever is written meanwhile.

    Deletions are kept for 30 days: a `since` from a copy last brought up to date (read to the end of
    the feed)
    longer ago than that is a 410 `SYNC_EXPIRED`, and the copy starts again without `since`. Poll
    cheaply
    with `If-None-Match` and the last answer's `ETag`: 304 while nothing changed.

    Args:
        user_id (str): The owner's id, as the service is configured (`TASKS_API_USER_IDS`): `uuid`
            (the default), a UUID; `opaque`,
            the identity provider's own id (Better Auth, Clerk, Auth0, Firebase ...), 1-128 letters,
            digits and
            `-_.|:@` starting with a letter or digit, compared exactly, except that a UUID is compared
            in lower case.
            Clients take it as a plain string in both modes.
             Example: 7c9e6679-7425-40de-944b-e07fc1f90ae7.
        since (str | Unset):
        limit (int | Unset):  Default: 1000.
        if_none_match (str | Unset):
        x_request_id (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Any | Problem | TaskChanges]
    """

    kwargs = _get_kwargs(
        user_id=user_id,
        since=since,
        limit=limit,
        if_none_match=if_none_match,
        x_request_id=x_request_id,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    user_id: str,
    *,
    client: AuthenticatedClient,
    since: str | Unset = UNSET,
    limit: int | Unset = 1000,
    if_none_match: str | Unset = UNSET,
    x_request_id: str | Unset = UNSET,
) -> Any | Problem | TaskChanges | None:
    """What changed in a user's tasks since a sync token

     A changes feed for keeping a local copy: each task that changed since `since` once, in its latest
    state,
    or, if it was deleted, as a deletion; oldest change first. Without `since`: every current task (no
    deletions), which is how a copy starts. Follow `next_since` while `has_more` is true, then keep the
    last
    `next_since` for the next sync. Nothing is missed or given twice, whatever is written meanwhile.

    Deletions are kept for 30 days: a `since` from a copy last brought up to date (read to the end of
    the feed)
    longer ago than that is a 410 `SYNC_EXPIRED`, and the copy starts again without `since`. Poll
    cheaply
    with `If-None-Match` and the last answer's `ETag`: 304 while nothing changed.

    Args:
        user_id (str): The owner's id, as the service is configured (`TASKS_API_USER_IDS`): `uuid`
            (the default), a UUID; `opaque`,
            the identity provider's own id (Better Auth, Clerk, Auth0, Firebase ...), 1-128 letters,
            digits and
            `-_.|:@` starting with a letter or digit, compared exactly, except that a UUID is compared
            in lower case.
            Clients take it as a plain string in both modes.
             Example: 7c9e6679-7425-40de-944b-e07fc1f90ae7.
        since (str | Unset):
        limit (int | Unset):  Default: 1000.
        if_none_match (str | Unset):
        x_request_id (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Any | Problem | TaskChanges
    """

    return (
        await asyncio_detailed(
            user_id=user_id,
            client=client,
            since=since,
            limit=limit,
            if_none_match=if_none_match,
            x_request_id=x_request_id,
        )
    ).parsed
