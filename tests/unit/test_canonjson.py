"""Strict parsing and canonical bytes of signed JSON (case 13 at the parser level)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mirror import canonjson
from mirror.canonjson import HostileJSON
from mirror.errors import LimitExceeded, UsageError

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**62), 2**62) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


@given(st.dictionaries(st.text(max_size=8), json_values, max_size=5))
def test_round_trip_is_stable(value: dict[str, object]) -> None:
    encoded = canonjson.dumps(value)
    assert canonjson.loads(encoded, max_size=1 << 20) == value
    assert canonjson.dumps(canonjson.loads(encoded, max_size=1 << 20)) == encoded


def test_canonical_bytes_sort_keys_and_keep_utf8() -> None:
    assert canonjson.dumps({"b": 1, "a": "ж"}) == '{"a":"ж","b":1}'.encode()


@pytest.mark.parametrize(
    "data",
    [
        b'{"a":1,"a":2}',  # duplicate keys
        b'{"a":NaN}',
        b'{"a":Infinity}',
        b'{"a":-Infinity}',
        b'{"a":1.5}',
        b'{"a":"\\ud800"}',  # lone surrogate
        b'{"a":' + b"1" * 5000 + b"}",  # 5,000-digit integer
        b'{"a":' + b"[" * 100_000 + b"]" * 100_000 + b"}",  # 10^5-deep nesting
    ],
)
def test_case_13_hostile_constructs_are_refused(data: bytes) -> None:
    with pytest.raises(HostileJSON):
        canonjson.loads(data, max_size=1 << 20)


@pytest.mark.parametrize(
    "data", [b'{"a":1} trailing', b'{"a":"\xff"}', b"[1]", b'{"a":', b"\xef\xbb\xbf{}"]
)
def test_case_13_damage_and_wrong_shapes_are_usage_errors(data: bytes) -> None:
    with pytest.raises(UsageError):
        canonjson.loads(data, max_size=1 << 20)


def test_size_cap_is_a_limit() -> None:
    with pytest.raises(LimitExceeded):
        canonjson.loads(json.dumps({"a": "x" * 100}).encode(), max_size=50)


def test_depth_counts_brackets_outside_strings_only() -> None:
    text = json.dumps({"a": "[" * 1000})
    assert canonjson.loads(text.encode(), max_size=1 << 20) == {"a": "[" * 1000}
