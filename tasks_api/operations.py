"""Connexion's request validation and handler call, with what depends only on the spec built once.

Connexion 3 rebuilds, on every request, objects that are the same for every request of an operation: the
URI parser and parameter validator, the accepted media types, and the whole decorator chain around the
handler (with ``inspect.signature`` of the handler). That was about a quarter of a get-one's CPU. The
classes here are Connexion's own, subclassed to build those once per operation; the rules still all come
from the OpenAPI document, and the request-time steps are Connexion's, in Connexion's order.
"""

from __future__ import annotations

import functools
from typing import Any

from connexion import AsyncApp
from connexion.apps.abstract import AbstractApp
from connexion.apps.asynchronous import AsyncApi, AsyncASGIApp, AsyncOperation
from connexion.datastructures import MediaTypeDict
from connexion.decorators.parameter import get_arguments, pythonic, sanitized
from connexion.decorators.response import AsyncResponseDecorator
from connexion.exceptions import UnsupportedMediaTypeProblem
from connexion.frameworks.starlette import Starlette as StarletteFramework
from connexion.jsonifier import Jsonifier
from connexion.lifecycle import ConnexionRequest
from connexion.middleware.abstract import ROUTING_CONTEXT
from connexion.middleware.main import ConnexionMiddleware
from connexion.middleware.request_validation import (
    RequestValidationAPI,
    RequestValidationMiddleware,
    RequestValidationOperation,
)
from connexion.middleware.routing import RoutingMiddleware
from connexion.middleware.swagger_ui import SwaggerUIMiddleware
from connexion.operations import AbstractOperation
from connexion.uri_parsing import OpenAPIURIParser
from connexion.utils import inspect_function_arguments, is_nullable
from starlette.types import Receive, Scope, Send

_PARAMETERS = "tasks_api.parameters"


class SpecURIParser(OpenAPIURIParser):
    """Connexion's OpenAPI URI parser, keeping the parameter schemas it otherwise rebuilds for every parameter
    of every request: here a parser lives as long as its operation."""

    @functools.cached_property
    def param_schemas(self) -> dict[str, Any]:
        schemas: dict[str, Any] = super().param_schemas
        return schemas


class _PrebuiltValidationOperation(RequestValidationOperation):
    def __init__(self, next_app: Any, *, operation: AbstractOperation, **kwargs: Any) -> None:
        super().__init__(next_app, operation=operation, **kwargs)
        self._uri_parser = operation.uri_parser_class(operation.parameters, operation.body_definition())
        self._parameter_validator = self._validator_map["parameter"](
            operation.parameters,
            uri_parser=self._uri_parser,
            strict_validation=self.strict_validation,
            security_query_params=self.security_query_params,
        )
        self._takes_body = bool(operation.request_body)
        self._consumes = MediaTypeDict([(media_type.lower(), None) for media_type in operation.consumes])

    def validate_mime_type(self, mime_type: str) -> None:
        if mime_type.lower() not in self._consumes:
            raise UnsupportedMediaTypeProblem(
                detail=f"Invalid Content-type ({mime_type}), expected {self._operation.consumes}"
            )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = ConnexionRequest(scope, uri_parser=self._uri_parser)
        self._parameter_validator.validate_request(request)
        # The handler call needs the same parameters, parsed and typed by the same URI parser.
        scope.setdefault("extensions", {})[_PARAMETERS] = (request.path_params, request.query_params)
        if not self._takes_body:
            # Nothing to check: an operation without a request body accepts no media type in particular.
            await self.next_app(scope, receive, send)
            return
        mime_type, encoding = self.extract_content_type(scope["headers"])
        self.validate_mime_type(mime_type)
        schema = self._operation.body_schema(mime_type)
        body_validator = self._validator_map["body"].get(mime_type) if schema else None
        if body_validator is not None:
            validator = body_validator(
                schema=schema,
                required=self._operation.request_body.get("required", False),
                nullable=is_nullable(self._operation.body_definition(mime_type)),
                encoding=encoding,
                strict_validation=self.strict_validation,
                uri_parser=self._uri_parser,
            )
            receive, scope = await validator.wrap_receive(receive, scope=scope)
        await self.next_app(scope, receive, send)


class _PrebuiltValidationAPI(RequestValidationAPI):
    def make_operation(self, operation: AbstractOperation) -> RequestValidationOperation:
        return _PrebuiltValidationOperation(
            self.next_app,
            operation=operation,
            strict_validation=self.strict_validation,
            validator_map=self.validator_map,
        )


class PrebuiltRequestValidation(RequestValidationMiddleware):
    """Connexion's request validation middleware, validators built once per operation."""

    api_cls = _PrebuiltValidationAPI


class SwaggerUIAfterRouting(SwaggerUIMiddleware):
    """Connexion's Swagger UI, placed after routing: a request that routing matched to an operation
    cannot be for the UI, so it skips the UI's router instead of being matched against every UI route."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("extensions", {}).get(ROUTING_CONTEXT, {}).get("operation_id") is not None:
            await self.app(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def _middlewares() -> list[Any]:
    """Connexion's default stack with these subclasses in place of its own, Swagger UI moved after routing."""
    middlewares: list[Any] = []
    for middleware in ConnexionMiddleware.default_middlewares:
        if middleware is SwaggerUIMiddleware:
            continue
        middlewares.append(PrebuiltRequestValidation if middleware is RequestValidationMiddleware else middleware)
        if middleware is RoutingMiddleware:
            middlewares.append(SwaggerUIAfterRouting)
    return middlewares


class _HandlerCall(AsyncOperation):
    """Calls a handler with the arguments Connexion derives from the request and sends its response,
    through Connexion's own response decorator, built once instead of on every request. Unlike Connexion's
    decorator it passes no form files and no security context: the spec declares neither."""

    def __init__(self, operation: AbstractOperation, jsonifier: Jsonifier, pythonic_params: bool) -> None:
        super().__init__(
            AsyncResponseDecorator(framework=StarletteFramework, jsonifier=jsonifier)(operation.function),
            jsonifier=jsonifier,
            operation_id=operation.operation_id,
            pythonic_params=pythonic_params,
        )
        self._operation = operation
        # Connexion turns each parameter name into a Python name with regular expressions, on every request;
        # the names come from the spec (strict validation refuses any other query parameter), so few recur.
        self._sanitize = functools.lru_cache(maxsize=256)(pythonic if pythonic_params else sanitized)
        self._arguments, self._has_kwargs = inspect_function_arguments(operation.function)
        self._takes_body = self._sanitize(operation.body_name("")) in self._arguments
        # Connexion's get_arguments rebuilds the parameter definitions and deep-copies the query defaults on
        # every request. An operation with neither query parameters nor a body takes its path parameters
        # alone, which the URI parser has already typed.
        self._path_only = not operation.request_body and all(p["in"] != "query" for p in operation.parameters)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path_params, query_params = scope["extensions"][_PARAMETERS]
        if self._path_only:
            arguments = {self._sanitize(name): value for name, value in path_params.items()}
        else:
            arguments = await self._connexion_arguments(scope, receive, path_params, query_params)
        response = await self._fn(**arguments)
        await response(scope, receive, send)

    async def _connexion_arguments(
        self, scope: Scope, receive: Receive, path_params: dict[str, Any], query_params: dict[str, Any]
    ) -> dict[str, Any]:
        body, content_type = None, ""
        if self._takes_body:
            request = ConnexionRequest(scope, receive)
            body, content_type = await request.get_body(), request.mimetype
        arguments: dict[str, Any] = get_arguments(
            self._operation,
            path_params=path_params,
            query_params=query_params,
            body=body,
            files={},
            arguments=self._arguments,
            has_kwargs=self._has_kwargs,
            sanitize=self._sanitize,
            content_type=content_type,
        )
        return arguments


class _HandlerAPI(AsyncApi):
    def make_operation(self, operation: AbstractOperation) -> AsyncOperation:
        return _HandlerCall(operation, self.jsonifier, self.pythonic_params)


class _HandlerApp(AsyncASGIApp):
    api_cls = _HandlerAPI


class PrebuiltApp(AsyncApp):
    """Connexion's ``AsyncApp`` with request validation and handler calls built once per operation, and
    URI parsers that keep what they derive from the spec (each lives as long as its operation here)."""

    def __init__(self, import_name: str, **kwargs: Any) -> None:
        # AsyncApp's own constructor only picks its handler app, then hands everything to AbstractApp.
        self._middleware_app = _HandlerApp()
        options = {"uri_parser_class": SpecURIParser, **kwargs}
        AbstractApp.__init__(self, import_name, middlewares=_middlewares(), **options)
