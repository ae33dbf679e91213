"""Connexion validators that report every failure as a problem naming the offending fields.

The rules themselves all come from the OpenAPI document; this module only decides how a failure is
reported (status, ``field_errors``) and closes the crash paths of Connexion's default validators.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import AsyncGenerator, Callable, Hashable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import jsonschema
from connexion.datastructures import MediaTypeDict
from connexion.json_schema import Draft4RequestValidator
from connexion.uri_parsing import OpenAPIURIParser
from connexion.validators import JSONRequestBodyValidator, ParameterValidator
from jsonschema import Draft4Validator, ValidationError
from starlette.datastructures import Headers
from starlette.types import Scope

from tasks_api import rfc3339
from tasks_api.problems import ApiProblem, FieldError

_CANONICAL_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_SURROGATE = re.compile("[\ud800-\udfff]")

FORMAT_CHECKER = jsonschema.FormatChecker()


@FORMAT_CHECKER.checks("uuid")
def _is_canonical_uuid(value: object) -> bool:
    # jsonschema's own check lets uuid.UUID() accept forms like "+2345678-...", which alias other ids.
    return not isinstance(value, str) or _CANONICAL_UUID.fullmatch(value) is not None


@FORMAT_CHECKER.checks("date-time", raises=ValueError)
def _is_storable_date_time(value: object) -> bool:
    # The date-times the handlers can read (rfc3339.parse), not only the well-formed ones: a leap second, or a
    # moment beyond what a datetime holds, is refused here rather than failing later.
    if isinstance(value, str):
        rfc3339.parse(value)
    return True


def _expected(error: ValidationError) -> Any:
    return error.validator_value


def _schema(error: ValidationError) -> dict[str, Any]:
    return error.schema if isinstance(error.schema, dict) else {}


def _message(error: ValidationError) -> str:
    keyword, expected, schema = error.validator, _expected(error), _schema(error)
    if keyword == "type":
        return f"must be of type {expected}"
    if keyword == "minLength":
        return "must not be empty" if expected == 1 else f"must be at least {expected} characters"
    if keyword == "maxLength":
        return f"must be at most {expected} characters"
    if keyword == "pattern":
        return str(schema.get("x-pattern-message", "has an invalid format"))
    if keyword == "format":
        return f"must be a valid {expected}"
    if keyword == "enum":
        return "must be one of " + ", ".join(json.dumps(option) for option in expected)
    if keyword in {"minimum", "maximum"}:
        return f"must be {'at least' if keyword == 'minimum' else 'at most'} {expected}"
    return str(error.message)


def _field_errors(error: ValidationError, root: str, under_root: bool) -> Iterable[FieldError]:
    path = ".".join(str(part) for part in ([root] if under_root else []) + list(error.absolute_path))
    prefix = f"{path}." if path else ""
    if error.validator == "required" and isinstance(error.instance, dict):
        for name in _expected(error):
            if name not in error.instance:
                yield {"field": prefix + name, "message": "is required"}
    elif error.validator == "additionalProperties" and isinstance(error.instance, dict):
        known = _schema(error).get("properties", {})
        for name in error.instance:
            if name not in known:
                yield {"field": prefix + name, "message": "is not allowed"}
    else:
        yield {"field": path or root, "message": _message(error)}


def _collect(errors: Iterable[ValidationError], root: str, *, under_root: bool = False) -> list[FieldError]:
    """One message per field: the first rule it breaks, in the order the schema states them. A field is named
    by its path in the value, under ``root`` (``tags.0`` of a parameter) or as it is (``title`` of a body)."""
    collected: dict[str, FieldError] = {}
    for error in sorted(errors, key=lambda e: [str(part) for part in e.absolute_path]):
        for field_error in _field_errors(error, root, under_root):
            collected.setdefault(field_error["field"], field_error)
    return list(collected.values())


def _describe(name: str) -> str:
    """``user_id`` -> ``user ID``: the wording clients of the original API already match on."""
    return name.removesuffix("_id").replace("_", " ") + " ID" if name.endswith("_id") else name


T = TypeVar("T")


class _DerivedFromSpec:
    """What this module derives from a spec object (a schema, an operation's parameter list), derived once.

    Connexion builds new validators and URI parsers for every request, but hands them the same spec objects,
    which live as long as the app: keyed by identity, each derivation is made once instead of per request.
    """

    def __init__(self) -> None:
        self._derived: dict[tuple[int, Hashable], tuple[object, Any]] = {}

    def get(self, source: object, kind: Hashable, derive: Callable[[], T]) -> T:
        key = (id(source), kind)
        cached = self._derived.get(key)
        if cached is None or cached[0] is not source:
            cached = (source, derive())
            self._derived[key] = cached
        derived: T = cached[1]
        return derived


_derived = _DerivedFromSpec()


def _validator_for(schema: dict[str, Any], validator_class: type[Draft4Validator]) -> Draft4Validator:
    return _derived.get(schema, validator_class, lambda: validator_class(schema, format_checker=FORMAT_CHECKER))


class _DuplicateKey(ValueError):
    pass


def _object_without_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # Parsers disagree on which duplicate wins, so a body with one means different things to different readers.
    body: dict[str, Any] = {}
    for key, value in pairs:
        if key in body:
            raise _DuplicateKey(key)
        body[key] = value
    return body


# Keywords that only describe a schema; every other keyword constrains the value.
_ANNOTATIONS = {"description", "example", "title", "nullable", "readOnly", "writeOnly", "deprecated"}
# The keywords of a string schema that ``_Parameter`` checks itself.
_QUICK_STRING_RULES = {"type", "format", "pattern", "minLength", "maxLength"}


def _quick_check(schema: dict[str, Any]) -> Callable[[Any], bool] | None:
    """For a plain string schema (an id, a name), a check that accepts exactly the strings the schema accepts,
    with none of jsonschema's machinery; None for any other schema. A value it refuses goes to the full
    validator, which says why."""
    rules = {key: value for key, value in schema.items() if key not in _ANNOTATIONS and not key.startswith("x-")}
    if rules.get("type") != "string" or not rules.keys() <= _QUICK_STRING_RULES:
        return None
    # JSON Schema's pattern matches anywhere in the string (re.search), as jsonschema applies it.
    pattern = re.compile(rules["pattern"]).search if "pattern" in rules else None
    shortest, longest, format_ = rules.get("minLength", 0), rules.get("maxLength"), rules.get("format")

    def accepts(value: Any) -> bool:
        return (
            isinstance(value, str)
            and shortest <= len(value)
            and (longest is None or len(value) <= longest)
            and (pattern is None or pattern(value) is not None)
            and (format_ is None or FORMAT_CHECKER.conforms(value, format_))
        )

    return accepts


@dataclass(frozen=True)
class _Parameter:
    location: str
    name: str
    required: bool
    schema: dict[str, Any]
    # Settles the common case, a plain string (every id), at a fraction of the full validator's cost, on every
    # request that names a user or a task.
    quick_check: Callable[[Any], bool] | None = field(compare=False)

    @classmethod
    def from_spec(cls, param: dict[str, Any]) -> _Parameter:
        schema = param.get("schema", {})
        return cls(param["in"], param["name"], bool(param.get("required")), schema, _quick_check(schema))

    def problems(self, value: Any) -> list[FieldError]:
        if self.quick_check is not None and self.quick_check(value):
            return []
        errors = _validator_for(self.schema, Draft4Validator).iter_errors(value)
        return _collect(errors, root=self.name, under_root=True)


_SOURCES = {"query": "query_params", "header": "headers", "cookie": "cookies"}


def _value(request: Any, param: _Parameter) -> Any:
    # Each source is read only for a parameter that lives there: headers and cookies are parsed on first use.
    if param.location == "path":
        return request.path_params.get(param.name.replace("-", "_"))
    return getattr(request, _SOURCES[param.location]).get(param.name)


_RESOLVED_QUERY = "tasks_api.resolved_query"


def resolved_query(scope: Scope) -> dict[str, Any]:
    """The request's query parameters as the parameter validator resolved them: split and typed by the operation's
    URI parser, which is Connexion's own. Empty for a request without a query string."""
    if not scope["query_string"]:
        return {}
    resolved: dict[str, Any] = scope["extensions"][_RESOLVED_QUERY]
    return resolved


class SpecURIParser(OpenAPIURIParser):
    """Connexion's OpenAPI URI parser, deriving each operation's parameter schemas once: Connexion's own
    rebuilds them for every parameter it resolves."""

    def __init__(self, param_defns: list[dict[str, Any]], body_defn: dict[str, Any]) -> None:
        super().__init__(param_defns, body_defn)
        self._spec_parameters = param_defns

    @property
    def param_schemas(self) -> dict[str, Any]:
        derive = functools.partial(OpenAPIURIParser.param_schemas.fget, self)
        schemas: dict[str, Any] = _derived.get(self._spec_parameters, "schemas", derive)
        return schemas


class RequestParameterValidator(ParameterValidator):
    """Reports all bad parameters at once, each in ``field_errors``, as a 400 VALIDATION_ERROR."""

    def __init__(
        self,
        parameters: list[dict[str, Any]],
        uri_parser: OpenAPIURIParser,
        strict_validation: bool = False,
        security_query_params: list[str] | None = None,
    ) -> None:
        super().__init__(parameters, uri_parser, strict_validation, security_query_params)
        self._known_query = _derived.get(
            parameters, ("known query", *sorted(self.security_query_params)), self._query_names
        )
        self._checked = _derived.get(parameters, "checked", self._parameters_to_check)
        self._exclusive = _derived.get(parameters, "exclusive", self._exclusive_pairs)

    def _query_names(self) -> frozenset[str]:
        security_names: set[str] = self.security_query_params
        return frozenset(param["name"] for param in self.parameters.get("query", [])) | security_names

    def _parameters_to_check(self) -> list[_Parameter]:
        return [
            _Parameter.from_spec(param)
            for location in ("path", "query", "header", "cookie")
            for param in self.parameters.get(location, [])
        ]

    def _exclusive_pairs(self) -> list[tuple[str, str]]:
        """The query parameters that say the same thing (``x-exclusive-with``), as pairs."""
        return [
            (other, param["name"])
            for param in self.parameters.get("query", [])
            for other in param.get("x-exclusive-with", [])
        ]

    def validate_request(self, request: Any) -> None:
        errors: list[FieldError] = []
        details: list[str] = []
        # An empty query string has no unknown or clashing parameters: no need to parse it.
        if request.scope["query_string"]:
            # Kept for the handler call (``tasks_api.operations``), which would otherwise parse the query again.
            request.scope.setdefault("extensions", {})[_RESOLVED_QUERY] = request.query_params
            given = set(request.query_params)
            if self.strict_validation:
                for name in sorted(given - self._known_query):
                    errors.append({"field": name, "message": "is not a known query parameter"})
                    details.append(f"Unknown query parameter '{name}'")
            for first, second in self._exclusive:
                if first in given and second in given:
                    errors.append({"field": first, "message": f"says what '{second}' says: send one of them"})
                    errors.append({"field": second, "message": f"says what '{first}' says: send one of them"})
                    details.append(f"Query parameters '{first}' and '{second}' say the same thing: send one of them")
        for param in self._checked:
            value = _value(request, param)
            if value is None:
                if param.required:
                    errors.append({"field": param.name, "message": "is required"})
                    details.append(f"Missing {param.location} parameter '{param.name}'")
                continue
            found = param.problems(value)
            if found:
                errors.extend(found)
                where = (
                    f"{_describe(param.name)} format"
                    if param.location == "path"
                    else f"{param.location} parameter '{param.name}'"
                )
                details.append(f"Invalid {where}")
        if errors:
            # The detail is the first problem: an unknown query parameter, else the path's (which id the client got
            # wrong), then the query's, the headers' and the cookies', in the spec's order.
            raise ApiProblem(400, details[0], field_errors=errors)


class JSONBodyValidator(JSONRequestBodyValidator):
    """Parses JSON strictly (400 for anything that is not well-formed UTF-8 JSON) and answers 422
    with ``field_errors`` for a body that does not match its schema."""

    def __init__(self, **kwargs: Any) -> None:
        # Connexion's own "required" check trusts Content-Length and so refuses chunked bodies;
        # ``_parse`` refuses an empty body itself, whatever the framing.
        super().__init__(**{**kwargs, "required": False})

    @property
    def _validator(self) -> Draft4Validator:
        return _validator_for(self._schema, Draft4RequestValidator)

    async def _parse(self, stream: AsyncGenerator[bytes, None], scope: Scope) -> Any:
        raw = b"".join([chunk async for chunk in stream])
        if not raw.strip():
            raise ApiProblem(400, "Request body is required")
        if "content-type" not in Headers(scope=scope):
            # Connexion would guess JSON; a body must say what it is.
            raise ApiProblem(415, "Request body has no Content-Type; send application/json")
        try:
            # JSON exchanged between systems is UTF-8 (RFC 8259 §8.1); a charset parameter cannot change that.
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ApiProblem(400, "Request body is not valid UTF-8") from None
        try:
            body = json.loads(text, object_pairs_hook=_object_without_duplicate_keys)
        except RecursionError:
            raise ApiProblem(400, "Request body is nested too deeply") from None
        except _DuplicateKey as duplicate:
            raise ApiProblem(400, f"Request body is ambiguous: key '{duplicate}' appears twice") from None
        except json.JSONDecodeError as error:
            where = f"line {error.lineno}, column {error.colno}"
            raise ApiProblem(400, f"Request body is not valid JSON: {error.msg} ({where})") from None
        except ValueError:  # an integer literal beyond Python's conversion limit
            raise ApiProblem(400, "Request body holds a number too long to read") from None
        # "\ud800" is valid JSON syntax but not text: no database can store it.
        if "\\u" in text and _SURROGATE.search(json.dumps(body, ensure_ascii=False)):
            raise ApiProblem(400, "Request body contains an unpaired UTF-16 surrogate")
        return body

    def _validate(self, body: Any) -> dict[str, Any] | None:
        field_errors = _collect(self._validator.iter_errors(body), root="body")
        if field_errors:
            detail = "; ".join(f"{error['field']}: {error['message']}" for error in field_errors)
            raise ApiProblem(422, f"Request body is invalid: {detail}", field_errors=field_errors)
        return None


VALIDATOR_MAP = {
    "parameter": RequestParameterValidator,
    "body": MediaTypeDict({"*/*json": JSONBodyValidator}),
}
