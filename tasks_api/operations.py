"""The handler call: the one layer this service adds to Connexion's own middleware stack.

Connexion's ``AsyncApp`` calls a handler through a decorator chain that it rebuilds on every request (with
``inspect.signature`` of the handler, a new URI parser and a second parse of the parameters). Measured with
``bench/request_cpu.py``, a get-one costs 181 us of server CPU with this handler call and 289 us with
Connexion's own (one run). ``HandlerCall`` is a routed
middleware (the base Connexion's own operation-level middlewares use) appended after Connexion's
``ContextMiddleware``: it builds the same steps once per operation, with Connexion's own functions, and
answers every request routed to an operation. Requests that match no operation pass on to Connexion's app,
which answers 404 and 405 as before. Everything in front of it is Connexion's default stack, so every
``MiddlewarePosition`` works as Connexion documents it.

What a handler receives is what Connexion's own call gives it, in Connexion's order: path, query and body
arguments typed and defaulted by the spec, the security context (``user``, ``token_info``) and
``context_`` when the handler declares them; a synchronous handler runs in the thread pool.
``tests/tasks_api/test_operations.py`` pins this against a plain ``connexion.AsyncApp``.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

from connexion.decorators.parameter import CONTEXT_NAME, get_arguments, pythonic, sanitized, unwrap_decorators
from connexion.decorators.response import AsyncResponseDecorator
from connexion.frameworks.starlette import Starlette as StarletteFramework
from connexion.jsonifier import Jsonifier
from connexion.lifecycle import ConnexionRequest
from connexion.middleware.abstract import RoutedAPI, RoutedMiddleware
from connexion.operations import AbstractOperation
from connexion.utils import inspect_function_arguments
from starlette.concurrency import run_in_threadpool
from starlette.types import Receive, Scope, Send

from tasks_api.validation import resolved_query

# Where Connexion's SecurityMiddleware leaves what the security handlers returned (``user``, ``token_info``).
_SECURITY_CONTEXT = "connexion_context"


def _asynchronous(function: Callable[..., Any]) -> Callable[..., Any]:
    if inspect.iscoroutinefunction(unwrap_decorators(function)):
        return function

    @functools.wraps(function)
    async def in_thread_pool(**arguments: Any) -> Any:
        return await run_in_threadpool(function, **arguments)

    return in_thread_pool


def _is_plain_string(parameter: dict[str, Any]) -> bool:
    schema = parameter.get("schema", {})
    return schema.get("type") == "string" and schema.get("format") != "binary" and not schema.get("nullable")


def _is_single_value(parameter: dict[str, Any]) -> bool:
    """A query parameter Connexion resolves to one value of its type, and passes on as resolved."""
    schema = parameter.get("schema", {})
    return (
        schema.get("type") in {"string", "integer"}
        and schema.get("format") != "binary"
        and not schema.get("nullable")
        and parameter.get("style", "form") == "form"
    )


_NO_DEFAULT = object()


class _OperationCall:
    def __init__(self, operation: AbstractOperation, jsonifier: Jsonifier, pythonic_params: bool) -> None:
        function = operation.function
        self._operation = operation
        self._uri_parser = operation.uri_parser_class(operation.parameters, operation.body_definition())
        # Connexion turns each parameter name into a Python name with regular expressions on every request;
        # the names come from the spec (strict validation refuses any other query parameter), so few recur.
        self._sanitize = functools.lru_cache(maxsize=256)(pythonic if pythonic_params else sanitized)
        self._arguments, self._has_kwargs = inspect_function_arguments(unwrap_decorators(function))
        self._call = AsyncResponseDecorator(framework=StarletteFramework, jsonifier=jsonifier)(_asynchronous(function))
        self._takes_body = self._has_kwargs or self._sanitize(operation.body_name("")) in self._arguments
        self._takes_context = CONTEXT_NAME in self._arguments
        path = [parameter for parameter in operation.parameters if parameter["in"] == "path"]
        query = [parameter for parameter in operation.parameters if parameter["in"] == "query"]
        # An operation without a body, whose path parameters are strings and whose query parameters are single
        # values, gets its arguments without Connexion's per-request argument building (which rebuilds the
        # parameter definitions and deep-copies the query defaults, on a second parse of the query): the path
        # parameters as routing captured them (the value Connexion's typing gives: ``str`` of a string), the query
        # parameters as the parameter validator resolved them with this operation's URI parser, else their
        # defaults, as Connexion's own call gives them.
        self._path_names: dict[str, str] | None = None
        self._query_arguments: list[tuple[str, str, Any]] = []
        simple = not operation.request_body and not self._has_kwargs
        if simple and all(map(_is_plain_string, path)) and all(map(_is_single_value, query)):
            self._path_names = {parameter["name"]: self._sanitize(parameter["name"]) for parameter in path}
            self._query_arguments = [
                (parameter["name"], self._sanitize(parameter["name"]), parameter["schema"].get("default", _NO_DEFAULT))
                for parameter in query
                if self._sanitize(parameter["name"]) in self._arguments
            ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._path_names is not None:
            names = self._path_names
            arguments = {names[name]: value for name, value in scope["path_params"].items()}
            if self._query_arguments:
                given = resolved_query(scope)
                for name, argument, default in self._query_arguments:
                    value = given.get(name, default)
                    if value is not _NO_DEFAULT:
                        arguments[argument] = value
        else:
            arguments = await self._spec_arguments(scope, receive)
        context = scope["extensions"].get(_SECURITY_CONTEXT)
        if context or self._takes_context:
            self._add_context(arguments, context or {})
        response = await self._call(**arguments)
        await response(scope, receive, send)

    async def _spec_arguments(self, scope: Scope, receive: Receive) -> dict[str, Any]:
        request = ConnexionRequest(scope, receive, uri_parser=self._uri_parser)
        arguments: dict[str, Any] = get_arguments(
            self._operation,
            path_params=request.path_params,
            query_params=request.query_params,
            body=await request.get_body() if self._takes_body else None,
            files={},  # the spec declares no form bodies
            arguments=self._arguments,
            has_kwargs=self._has_kwargs,
            sanitize=self._sanitize,
            content_type=request.mimetype,
        )
        return {self._sanitize(name): value for name, value in arguments.items()}

    def _add_context(self, arguments: dict[str, Any], context: dict[str, Any]) -> None:
        for name, value in context.items():
            if self._has_kwargs or name in self._arguments:
                arguments[name] = value
        if self._takes_context:
            arguments[CONTEXT_NAME] = context


class _HandlerCallAPI(RoutedAPI[_OperationCall]):
    def __init__(
        self, *args: Any, jsonifier: Jsonifier | None = None, pythonic_params: bool = False, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.jsonifier = jsonifier or Jsonifier()
        self.pythonic_params = pythonic_params
        self.add_paths()

    def make_operation(self, operation: AbstractOperation) -> _OperationCall:
        return _OperationCall(operation, self.jsonifier, self.pythonic_params)


class HandlerCall(RoutedMiddleware[_HandlerCallAPI]):
    """Calls the handler of the operation Connexion routed the request to (see the module docstring)."""

    api_cls = _HandlerCallAPI
