"""unsigned-varint: vectors from https://github.com/multiformats/unsigned-varint (README)."""

from __future__ import annotations

import io

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mirror.errors import UsageError
from mirror.ipld import varint

SPEC_VECTORS = [
    (1, "01"),
    (127, "7f"),
    (128, "8001"),
    (255, "ff01"),
    (300, "ac02"),
    (16384, "808001"),
]


@pytest.mark.parametrize(("value", "hexed"), SPEC_VECTORS)
def test_spec_vectors(value: int, hexed: str) -> None:
    assert varint.encode(value).hex() == hexed
    assert varint.decode(bytes.fromhex(hexed)) == (value, len(hexed) // 2)
    assert varint.read(io.BytesIO(bytes.fromhex(hexed))) == value


@given(st.integers(min_value=0, max_value=varint.MAX_VALUE), st.binary(max_size=4))
def test_round_trip(value: int, tail: bytes) -> None:
    raw = varint.encode(value)
    assert len(raw) == varint.encoded_len(value) <= 9
    assert varint.decode(b"\x00" + raw + tail, 1) == (value, 1 + len(raw))
    stream = io.BytesIO(raw + tail)
    assert varint.read(stream) == value
    assert stream.tell() == len(raw)


@pytest.mark.parametrize(
    "hexed",
    [
        "8000",  # non-minimal zero
        "ff00",  # non-minimal 127
        "80808080808080808001",  # ten bytes
        "ffffffffffffffffff",  # nine bytes, still continuing
        "80",  # truncated
        "",
    ],
)
def test_rejects_bad_varints(hexed: str) -> None:
    with pytest.raises(UsageError):
        varint.decode(bytes.fromhex(hexed))
    if hexed:
        with pytest.raises(UsageError):
            varint.read(io.BytesIO(bytes.fromhex(hexed)))


def test_read_clean_end_is_none() -> None:
    assert varint.read(io.BytesIO(b"")) is None


def test_encode_range() -> None:
    assert len(varint.encode(varint.MAX_VALUE)) == 9
    with pytest.raises(UsageError):
        varint.encode(varint.MAX_VALUE + 1)
    with pytest.raises(UsageError):
        varint.encode(-1)
