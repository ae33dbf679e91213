from http import HTTPStatus
from typing import Any, cast
from urllib.parse import quote
from uuid import UUID

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.problem import Problem
from ...types import UNSET, Response, Unset


def _get_kwargs(
    user_id: str,
    task_id: UUID,
    *,
    if_match: str | Unset = UNSET,
    idempotency_key: str | Unset = UNSET,
    x_request_id: str | Unset = UNSET,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    if not isinstance(if_match, Unset):
        headers["If-Match"] = if_match

    if not isinstance(idempotency_key, Unset):
        headers["Idempotency-Key"] = idempotency_key

    if not isinstance(x_request_id, Unset):
        headers["X-Request-ID"] = x_request_id

    _kwargs: dict[str, Any] = {
        "method": "delete",
        "url": "/{user_id}/tasks/{task_id}".format(
            user_id=quote(str(user_id), safe=""),
            task_id=quote(str(task_id), safe=""),
        ),
    }

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Any | Problem | None:
    if response.status_code == 204:
        response_204 = cast(Any, None)
        return response_204

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

    if response.status_code == 409:
        response_409 = Problem.from_dict(response.json())

        return response_409

    if response.status_code == 412:
        response_412 = Problem.from_dict(response.json())

        return response_412

    if response.status_code == 422:
        response_422 = Problem.from_dict(response.json())

        return response_422

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


def _build_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Response[Any | Problem]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    user_id: str,
    task_id: UUID,
    *,
    client: AuthenticatedClient,
    if_match: str | Unset = UNSET,
    idempotency_key: str | Unset = UNSET,
    x_request_id: str | Unset = UNSET,
) -> Response[Any | Problem]:
    """Delete a task

    Args:
        user_id (str): The owner's id, as the service is configured (`TASKS_API_USER_IDS`): `uuid`
            (the default), a UUID; `opaque`,
            the identity provider's own id (Better Auth, Clerk, Auth0, Firebase ...), 1-128 letters,
            digits and
            `-_.|:@` starting with a letter or digit, compared exactly, except that a UUID is compared
            in lower case.
            Clients take it as a plain string in both modes.
             Example: 7c9e6679-7425-40de-944b-e07fc1f90ae7.
        task_id (UUID):
        if_match (str | Unset):
        idempotency_key (str | Unset):
        x_request_id (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Any | Problem]
    """

    kwargs = _get_kwargs(
        user_id=user_id,
        task_id=task_id,
        if_match=if_match,
        idempotency_key=idempotency_key,
        x_request_id=x_request_id,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    user_id: str,
    task_id: UUID,
    *,
    client: AuthenticatedClient,
    if_match: str | Unset = UNSET,
    idempotency_key: str | Unset = UNSET,
    x_request_id: str | Unset = UNSET,
) -> Any | Problem | None:
    """Delete a task

    Args:
        user_id (str): The owner's id, as the service is configured (`TASKS_API_USER_IDS`): `uuid`
            (the default), a UUID; `opaque`,
            the identity provider's own id (Better Auth, Clerk, Auth0, Firebase ...), 1-128 letters,
            digits and
            `-_.|:@` starting with a letter or digit, compared exactly, except that a UUID is compared
            in lower case.
            Clients take it as a plain string in both modes.
             Example: 7c9e6679-7425-40de-944b-e07fc1f90ae7.
        task_id (UUID):
        if_match (str | Unset):
        idempotency_key (str | Unset):
        x_request_id (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Any | Problem
    """

    return sync_detailed(
        user_id=user_id,
        task_id=task_id,
        client=client,
        if_match=if_match,
        idempotency_key=idempotency_key,
        x_request_id=x_request_id,
    ).parsed


async def asyncio_detailed(
    user_id: str,
    task_id: UUID,
    *,
    client: AuthenticatedClient,
    if_match: str | Unset = UNSET,
    idempotency_key: str | Unset = UNSET,
    x_request_id: str | Unset = UNSET,
) -> Response[Any | Problem]:
    """Delete a task

    Args:
        user_id (str): The owner's id, as the service is configured (`TASKS_API_USER_IDS`): `uuid`
            (the default), a UUID; `opaque`,
            the identity provider's own id (Better Auth, Clerk, Auth0, Firebase ...), 1-128 letters,
            digits and
            `-_.|:@` starting with a letter or digit, compared exactly, except that a UUID is compared
            in lower case.
            Clients take it as a plain string in both modes.
             Example: 7c9e6679-7425-40de-944b-e07fc1f90ae7.
        task_id (UUID):
        if_match (str | Unset):
        idempotency_key (str | Unset):
        x_request_id (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Any | Problem]
    """

    kwargs = _get_kwargs(
        user_id=user_id,
        task_id=task_id,
        if_match=if_match,
        idempotency_key=idempotency_key,
        x_request_id=x_request_id,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    user_id: str,
    task_id: UUID,
    *,
    client: AuthenticatedClient,
    if_match: str | Unset = UNSET,
    idempotency_key: str | Unset = UNSET,
    x_request_id: str | Unset = UNSET,
) -> Any | Problem | None:
    """Delete a task

    Args:
        user_id (str): The owner's id, as the service is configured (`TASKS_API_USER_IDS`): `uuid`
            (the default), a UUID; `opaque`,
            the identity provider's own id (Better Auth, Clerk, Auth0, Firebase ...), 1-128 letters,
            digits and
            `-_.|:@` starting with a letter or digit, compared exactly, except that a UUID is compared
            in lower case.
            Clients take it as a plain string in both modes.
             Example: 7c9e6679-7425-40de-944b-e07fc1f90ae7.
        task_id (UUID):
        if_match (str | Unset):
        idempotency_key (str | Unset):
        x_request_id (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Any | Problem
    """

    return (
        await asyncio_detailed(
            user_id=user_id,
            task_id=task_id,
            client=client,
            if_match=if_match,
            idempotency_key=idempotency_key,
            x_request_id=x_request_id,
        )
    ).parsed
