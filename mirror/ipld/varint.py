"""Unsigned varints (multiformats unsigned-varint, LEB128).

Spec: https://github.com/multiformats/unsigned-varint — at most 9 bytes (63 bits) and
minimal encoding only, so every value has exactly one byte form.
"""

from __future__ import annotations

from typing import IO

from ..errors import UsageError

MAX_BYTES = 9
MAX_VALUE = (1 << 63) - 1


def encode(value: int) -> bytes:
    """The minimal varint bytes of `value` (0 <= value < 2**63)."""
    if value < 0 or value > MAX_VALUE:
        raise UsageError(f"varint out of range: {value}")
    if value < 0x80:
        return bytes((value,))
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def encoded_len(value: int) -> int:
    """Length in bytes of encode(value), without building it."""
    return max(1, (value.bit_length() + 6) // 7)


def decode(buf: bytes | bytearray | memoryview, offset: int = 0) -> tuple[int, int]:
    """Decode one varint at `offset`; return (value, offset just after it)."""
    value = 0
    shift = 0
    end = len(buf)
    for i in range(MAX_BYTES):
        pos = offset + i
        if pos >= end:
            raise UsageError("truncated varint")
        byte = buf[pos]
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            if byte == 0 and i > 0:
                raise UsageError("varint is not minimally encoded")
            return value, pos + 1
        shift += 7
    raise UsageError("varint longer than 9 bytes")


def read(stream: IO[bytes]) -> int | None:
    """Read one varint from a stream; None at a clean end of stream (no bytes at all)."""
    value = 0
    shift = 0
    for i in range(MAX_BYTES):
        b = stream.read(1)
        if not b:
            if i == 0:
                return None
            raise UsageError("truncated varint")
        byte = b[0]
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            if byte == 0 and i > 0:
                raise UsageError("varint is not minimally encoded")
            return value
        shift += 7
    raise UsageError("varint longer than 9 bytes")
