"""Header values an attacker or a careless client sends, shared by the hostile-input system tests and the
Schemathesis runs (``tests/openapi/schemathesis_hooks.py``): none of them may reach a 500."""

from __future__ import annotations

import base64
import json
import uuid

import jwt

from tests.tokens import SECRET, claims

# Every spelling of the one media type the API takes: each must be read as JSON (RFC 9110, 8.3.1).
JSON_SPELLINGS = [
    "Application/Json",
    "APPLICATION/JSON",
    "application/JSON; Charset=UTF-8",
    "application/json ; charset=utf-8",
    'application/json; charset="utf-8"',
    "application/json;charset=latin-1",
    "application/json; charset=not-a-charset",
    "application/json;;",
    "application/json; q",
    "application/json; =x; charset",
]

# Media types that are not JSON, or not media types at all: 415 (or 400), never a 500.
NOT_JSON = ["text/plain", "application/*", "*/*", "application", "/", "application/json, text/plain", "a/b/c", ";"]


def _unsigned(header: dict[str, object], payload: dict[str, object]) -> str:
    def part(value: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part(header)}.{part(payload)}."


def _signed(**overrides: object) -> str:
    """A validly signed token whose claims are as odd as an identity provider's bug."""
    return _raw_signed(json.dumps({**claims(str(uuid.uuid4())), **overrides}).encode())


def _raw_signed(payload: bytes) -> str:
    """A validly signed HS256 token over exactly these payload bytes (numbers JSON can hold but floats cannot)."""
    header = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT"}').rstrip(b"=")
    body = base64.urlsafe_b64encode(payload).rstrip(b"=")
    signature = jwt.get_algorithm_by_name("HS256").sign(header + b"." + body, SECRET)
    return b".".join([header, body, base64.urlsafe_b64encode(signature).rstrip(b"=")]).decode()


_SUBJECT = str(uuid.uuid4())
AUTHORIZATION = [
    "",
    "Bearer",
    "bearer",
    "Bearer  a.b.c",
    "Basic dXNlcjpwYXNz",
    "Negotiate abc",
    "Bearer a.b",
    "Bearer ...",
    "Bearer a b c",
    "Bearer " + "A" * 4000,
    "Bearer " + _unsigned({"alg": "none"}, claims(_SUBJECT)),
    "Bearer " + _unsigned({"alg": "HS256", "kid": 7}, claims(_SUBJECT)),
    "Bearer " + _unsigned({"alg": ["HS256"]}, claims(_SUBJECT)),
    "Bearer " + _raw_signed(f'{{"sub":"{_SUBJECT}","exp":1{"0" * 400}}}'.encode()),
    "Bearer " + _raw_signed(f'{{"sub":"{_SUBJECT}","exp":1e400}}'.encode()),
    "Bearer " + _raw_signed(f'{{"sub":"{_SUBJECT}","exp":9999999999,"nbf":-1e400}}'.encode()),
    "Bearer " + _raw_signed(f'{{"sub":"{_SUBJECT}","exp":9999999999,"iat":1{"0" * 400}}}'.encode()),
    "Bearer " + _raw_signed(b'{"sub":"x","exp":NaN}'),
    "Bearer " + _raw_signed(b"[1, 2]"),
    "Bearer " + _signed(exp="9999999999"),
    "Bearer " + _signed(exp=True),
    "Bearer " + _signed(sub=12345),
    "Bearer " + _signed(sub=["a"]),
    "Bearer " + _signed(sub=None),
    "Bearer " + _signed(iss=["x"], aud={"a": 1}),
    "Bearer " + _signed(sub=f"urn:uuid:{_SUBJECT}"),
]

# Conditional headers: malformed, wildcard and list forms of entity tags, and dates that are not dates.
CONDITIONAL = {
    "If-Match": ["*", "W/", '"', 'W/"x"', '"a", "b"', ", ,", "W/*", '""', '*, "x"', '"' + "9" * 200 + '"'],
    "If-None-Match": ["*", "W/", '"', 'W/"x"', '"a", W/"b"', ", ,", '""', "x" * 300],
    "If-Modified-Since": ["yesterday", "Mon, 32 Jan 2026 00:00:00 GMT", "0"],
    "If-Unmodified-Since": ["Sun, 06 Nov 1994 08:49:37 GMT", "-1"],
}

OTHERS = {
    "X-Request-ID": ["x" * 200, "a b", "../../etc/passwd", "%00"],
    "Accept": ["text/html", "*/*;q=x", "application/json;q=0", "application/problem+json, */*;q=0.1", ",,,"],
    "Accept-Encoding": ["gzip;q=x", "identity;q=0", "*"],
}
