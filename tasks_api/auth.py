"""Authentication through Connexion's security handling, and the binding of a token to the path's user.

The spec's ``bearerAuth`` scheme names ``bearer_info`` (``x-bearerInfoFunc``): Connexion's security middleware
calls it with the token, after routing and before validation. What it returns (the claims) becomes Connexion's
security context. Whether the token's ``sub`` is the path's user is decided by the parameter validator, right
after the path and query are found well-formed and before the body is read or the database touched: the order
the spec's description states (401, then 400 for the path or query, then 403, then the rest).
"""

from __future__ import annotations

import copy
from collections.abc import Awaitable, Callable
from typing import Any

from connexion.exceptions import OAuthProblem, OAuthResponseProblem
from connexion.lifecycle import ConnexionRequest, ConnexionResponse
from connexion.security import NO_VALUE, BearerSecurityHandler

from tasks_api.problems import ApiProblem, ProblemResponses
from tasks_api.routes import HTTP_METHODS
from tasks_api.tokens import KeysUnavailable, TokenRejected, TokenVerifier
from tasks_api.user_ids import same_user
from tasks_api.validation import RequestParameterValidator

REALM = 'Bearer realm="tasks-api"'
INVALID_TOKEN = f'{REALM}, error="invalid_token"'  # RFC 6750, section 3.1
# The lifespan state under which the app keeps its TokenVerifier.
VERIFIER = "tokens"


async def bearer_info(token: str, request: ConnexionRequest) -> dict[str, Any]:
    """Connexion's ``x-bearerInfoFunc``: the token's claims, or a 401 (503 if no key can be had)."""
    verifier: TokenVerifier = request.scope["state"][VERIFIER]
    try:
        return await verifier.claims(token)
    except TokenRejected as rejected:
        raise ApiProblem(401, str(rejected), headers={"WWW-Authenticate": INVALID_TOKEN}) from None
    except KeysUnavailable:
        raise ApiProblem(503, "The keys that verify tokens cannot be fetched; retry later") from None


_AUTHORIZATION = b"authorization"


class BearerTokens(BearerSecurityHandler):
    """Connexion's bearer security handler (``security_map={"bearer": ...}``), calling the spec's
    ``x-bearerInfoFunc`` as directly as its contract allows.

    Connexion's own wraps that function in a generic check that inspects its signature twice on every request
    (which keywords does it take?) and reads the header through a new Starlette ``Headers``. Measured in
    process, a get-one with a (cached) token cost 208 us of server CPU with Connexion's handler and 174 us with
    this one, against 155 us without authentication. The answers are the same:
    ``tests/tasks_api/test_operations_differential.py`` runs its corpus with tokens against both.
    """

    def _get_verify_func(self, token_info_func: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        async def verify(request: ConnexionRequest) -> Any:
            header = next((value for name, value in request.scope["headers"] if name == _AUTHORIZATION), b"")
            scheme, _, token = header.decode("latin-1").strip().partition(" ")
            if scheme.lower() != "bearer":
                return NO_VALUE
            if not token.strip():
                raise OAuthProblem(detail="Invalid authorization header")
            token_info = await token_info_func(token.strip(), request=request)
            if token_info is None:
                raise OAuthResponseProblem(detail="Provided token is not valid")
            return token_info

        return verify


SECURITY_MAP = {"bearer": BearerTokens}


class OwnerParameterValidator(RequestParameterValidator):
    """The service's parameter validator, then: a verified token may only name its own user in the path (the
    parameter the security scheme's ``x-subject-parameter`` names)."""

    def __init__(self, *args: Any, subject_parameter: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.subject_parameter = subject_parameter

    def validate_request(self, request: Any) -> None:
        super().validate_request(request)
        claims = request.context.get("token_info")
        if claims is None:  # an operation without security
            return
        user_id = request.path_params.get(self.subject_parameter)
        if user_id is not None and not same_user(claims.get("sub"), user_id):
            raise ApiProblem(403, "The token belongs to another user; it gives access to its own tasks only")


def unauthenticated(problems: ProblemResponses) -> Any:
    """The error handler for Connexion's own 401 (no bearer token, or an unreadable Authorization header)."""

    def handle(request: ConnexionRequest, exc: Exception) -> ConnexionResponse:
        assert isinstance(exc, OAuthProblem)
        scheme = request.headers.get("authorization", "").partition(" ")[0]
        if scheme.lower() != "bearer":
            # No credentials this service understands: RFC 6750 asks for the bare challenge.
            return problems(401, "A bearer token is required", headers={"WWW-Authenticate": REALM})
        return problems(401, "The Authorization header is malformed", headers={"WWW-Authenticate": INVALID_TOKEN})

    return handle


def without_authentication(specification: dict[str, Any]) -> dict[str, Any]:
    """The spec as served with authentication off: no security requirement, no 401 or 403 answers."""
    unsecured = copy.deepcopy(specification)
    for item in unsecured["paths"].values():
        for method in HTTP_METHODS:
            operation = item.get(method)
            if operation is not None and operation.pop("security", None) is not None:
                for status in ("401", "403"):
                    operation["responses"].pop(status, None)
    unsecured.get("components", {}).pop("securitySchemes", None)
    return unsecured
