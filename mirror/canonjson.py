"""Strict parsing and canonical encoding of every signed JSON document.

Signed documents (manifests, feeds, heads, identities) are UTF-8 JSON objects with
no floats, no NaN/Infinity, no duplicate keys, no lone surrogates, integers of at
most MAX_INT_DIGITS digits, bounded size and depth, and nothing after the value.
Canonical bytes: keys sorted by code point, no insignificant whitespace, non-ASCII
kept as UTF-8 — the same bytes on every machine, so a golden vector can be compared
byte for byte.
"""

from __future__ import annotations

import json
import re
from typing import Any

from .errors import LimitExceeded, MalformedInput, UsageError

MAX_DEPTH = 32
MAX_INT_DIGITS = 19  # fits int64; a 5,000-digit integer is refused before int() runs
# Unrolled loop: linear time and constant memory even on a multi-megabyte string.
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.S)
_BRACKET = re.compile(r"[\[\]{}]")
_LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")


class HostileJSON(MalformedInput):
    """A construct refused on principle (exit 2) rather than plain damage: duplicate
    keys, floats, NaN/Infinity, lone surrogates, deep nesting, overlong integers.
    Verifiers report other parse failures of a signed file (bad UTF-8, broken syntax,
    trailing bytes) as tampering (exit 3); elsewhere they are malformed input (2)."""


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise HostileJSON(f"duplicate JSON key {key!r}")
        out[key] = value
    return out


def _no_float(text: str) -> Any:
    raise HostileJSON("floating-point numbers are not allowed in signed JSON")


def _no_constant(name: str) -> Any:
    raise HostileJSON(f"{name} is not allowed in signed JSON")


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise HostileJSON("integer too long in signed JSON")
    return int(text)


def _check_depth(text: str, what: str) -> None:
    depth = 0
    for match in _BRACKET.finditer(_STRING.sub("", text)):
        if match.group() in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                raise HostileJSON(f"{what} is nested deeper than {MAX_DEPTH} levels")
        else:
            depth -= 1


def _check_strings(value: Any) -> None:
    if isinstance(value, str):
        if _LONE_SURROGATE.search(value):
            raise HostileJSON("lone surrogate in signed JSON string")
    elif isinstance(value, dict):
        for k, v in value.items():
            _check_strings(k)
            _check_strings(v)
    elif isinstance(value, list):
        for v in value:
            _check_strings(v)


def loads(data: bytes, *, max_size: int, what: str = "document") -> dict[str, Any]:
    """Parse `data` under the strict rules above; the top level must be an object."""
    if len(data) > max_size:
        raise LimitExceeded(f"{what} is larger than {max_size} bytes")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedInput(f"{what} is not valid UTF-8") from exc
    if text.startswith("\ufeff"):
        raise MalformedInput(f"{what} starts with a byte-order mark")
    _check_depth(text, what)
    try:
        value = json.loads(
            text,
            object_pairs_hook=_no_duplicates,
            parse_float=_no_float,
            parse_int=_bounded_int,
            parse_constant=_no_constant,
        )
    except UsageError as exc:
        raise type(exc)(f"{what}: {exc.message}") from exc
    except json.JSONDecodeError as exc:
        if exc.msg.startswith("Extra data"):
            raise MalformedInput(f"{what} has bytes after the JSON value") from exc
        raise MalformedInput(f"{what} is not valid JSON: {exc.msg}") from exc
    except (ValueError, RecursionError) as exc:
        raise HostileJSON(f"{what} is not valid JSON: {str(exc).splitlines()[0]}") from exc
    if not isinstance(value, dict):
        raise MalformedInput(f"{what} must be a JSON object")
    try:
        _check_strings(value)
    except HostileJSON as exc:
        raise HostileJSON(f"{what}: {exc.message}") from exc
    return value


def dumps(value: Any) -> bytes:
    """Canonical bytes of a JSON value (sorted keys, compact, UTF-8)."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def pretty(value: Any) -> str:
    """Human-readable JSON for --json output and files people read (not signed bytes)."""
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=False)
