"""Content identifiers (CIDv0 and CIDv1) over sha2-256 and identity multihashes.

Specs: https://github.com/multiformats/cid, https://github.com/multiformats/multihash,
https://github.com/multiformats/multibase. Only what bundles use is accepted; anything
else is refused as malformed input rather than guessed at.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass

from ..errors import UsageError, VerificationError
from . import varint

RAW = 0x55
DAG_PB = 0x70
DAG_CBOR = 0x71
SHA2_256 = 0x12
IDENTITY = 0x00

CODECS = {RAW: "raw", DAG_PB: "dag-pb", DAG_CBOR: "dag-cbor"}
HASHES = {SHA2_256: "sha2-256", IDENTITY: "identity"}
MAX_IDENTITY_DIGEST = 128  # larger inline data would let a "CID" smuggle a whole block
MAX_CID_TEXT = 256

_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_B58_INDEX = {c: i for i, c in enumerate(_B58)}
_B32_ALPHABET = frozenset("abcdefghijklmnopqrstuvwxyz234567")
_SHA256_PREFIX = bytes((SHA2_256, 32))


def _b58encode(data: bytes) -> str:
    n = int.from_bytes(data, "big")
    out = []
    while n:
        n, r = divmod(n, 58)
        out.append(_B58[r])
    zeros = len(data) - len(data.lstrip(b"\0"))
    return "1" * zeros + "".join(reversed(out))


def _b58decode(text: str) -> bytes:
    n = 0
    for ch in text:
        digit = _B58_INDEX.get(ch)
        if digit is None:
            raise UsageError("invalid base58 character in CID")
        n = n * 58 + digit
    zeros = len(text) - len(text.lstrip("1"))
    body = n.to_bytes((n.bit_length() + 7) // 8, "big") if n else b""
    return b"\0" * zeros + body


def _b32encode(data: bytes) -> str:
    return base64.b32encode(data).decode("ascii").lower().rstrip("=")


def _b32decode(text: str) -> bytes:
    if not text or not set(text) <= _B32_ALPHABET:
        raise UsageError("invalid base32 character in CID")
    try:
        raw = base64.b32decode(text.upper() + "=" * (-len(text) % 8))
    except binascii.Error as exc:
        raise UsageError("invalid base32 in CID") from exc
    if _b32encode(raw) != text:  # trailing bits set: not the canonical form
        raise UsageError("non-canonical base32 in CID")
    return raw


@dataclass(frozen=True, slots=True)
class CID:
    """A CID: version (0 or 1), content codec and the full multihash bytes."""

    version: int
    codec: int
    multihash: bytes

    def __post_init__(self) -> None:
        if self.version not in (0, 1):
            raise UsageError(f"unsupported CID version {self.version}")
        if self.codec not in CODECS:
            raise UsageError(f"unsupported CID codec 0x{self.codec:x}")
        if self.version == 0 and (self.codec != DAG_PB or not _is_sha256_mh(self.multihash)):
            raise UsageError("CIDv0 must be dag-pb over sha2-256")
        _check_multihash(self.multihash)

    # -- construction -------------------------------------------------------

    @classmethod
    def raw(cls, data: bytes) -> CID:
        return cls(1, RAW, _SHA256_PREFIX + hashlib.sha256(data).digest())

    @classmethod
    def dag_pb(cls, block: bytes) -> CID:
        return cls(1, DAG_PB, _SHA256_PREFIX + hashlib.sha256(block).digest())

    @classmethod
    def from_digest(cls, codec: int, digest: bytes) -> CID:
        """A CIDv1 for a sha2-256 digest already computed by the caller."""
        return cls(1, codec, _SHA256_PREFIX + digest)

    @classmethod
    def decode(cls, text: str) -> CID:
        """Parse a CID string: base32 ('b...'), base58btc ('z...') or CIDv0 ('Qm...')."""
        if not isinstance(text, str) or not text or len(text) > MAX_CID_TEXT:
            raise UsageError("not a CID: empty or too long")
        if len(text) == 46 and text.startswith("Qm"):
            mh = _b58decode(text)
            if not _is_sha256_mh(mh) or _b58encode(mh) != text:
                raise UsageError(f"not a valid CIDv0: {text}")
            return cls(0, DAG_PB, mh)
        prefix, body = text[0], text[1:]
        if prefix == "b":
            raw = _b32decode(body)
        elif prefix == "z":
            raw = _b58decode(body)
        else:
            raise UsageError(f"unsupported CID encoding (want base32 'b...'): {text[:20]}")
        cid, end = cls.from_bytes(raw)
        if end != len(raw):
            raise UsageError("trailing bytes after CID")
        if cid.version == 0:
            raise UsageError("CIDv0 must be written in base58 'Qm...'")
        return cid

    @classmethod
    def from_bytes(cls, buf: bytes | bytearray | memoryview, offset: int = 0) -> tuple[CID, int]:
        """Decode binary CID at `offset`; return (cid, offset just after it)."""
        end = len(buf)
        if offset + 2 <= end and buf[offset] == SHA2_256 and buf[offset + 1] == 32:
            stop = offset + 34
            if stop > end:
                raise UsageError("truncated CIDv0")
            return cls(0, DAG_PB, bytes(buf[offset:stop])), stop
        version, pos = varint.decode(buf, offset)
        if version != 1:
            raise UsageError(f"unsupported CID version {version}")
        codec, pos = varint.decode(buf, pos)
        if codec not in CODECS:
            raise UsageError(f"unsupported CID codec 0x{codec:x}")
        mh_start = pos
        code, pos = varint.decode(buf, pos)
        if code not in HASHES:
            raise UsageError(f"unsupported multihash 0x{code:x}")
        length, pos = varint.decode(buf, pos)
        _check_digest_len(code, length)
        stop = pos + length
        if stop > end:
            raise UsageError("truncated CID digest")
        return cls(1, codec, bytes(buf[mh_start:stop])), stop

    # -- views --------------------------------------------------------------

    @property
    def hash_code(self) -> int:
        return self.multihash[0]  # both supported codes are single-byte varints

    @property
    def digest(self) -> bytes:
        _, pos = varint.decode(self.multihash, 0)
        _, pos = varint.decode(self.multihash, pos)
        return self.multihash[pos:]

    def to_bytes(self) -> bytes:
        if self.version == 0:
            return self.multihash
        return varint.encode(1) + varint.encode(self.codec) + self.multihash

    def encode(self) -> str:
        if self.version == 0:
            return _b58encode(self.multihash)
        return "b" + _b32encode(self.to_bytes())

    def __str__(self) -> str:
        return self.encode()

    def verify(self, block: bytes | bytearray | memoryview) -> None:
        """Raise VerificationError unless `block` hashes to this CID."""
        if self.hash_code == SHA2_256:
            ok = hashlib.sha256(block).digest() == self.digest
        else:
            ok = bytes(block) == self.digest
        if not ok:
            raise VerificationError(f"block does not match its CID {self.encode()}")


def _is_sha256_mh(mh: bytes) -> bool:
    return len(mh) == 34 and mh[:2] == _SHA256_PREFIX


def _check_digest_len(code: int, length: int) -> None:
    if code == SHA2_256 and length != 32:
        raise UsageError("sha2-256 multihash must have a 32-byte digest")
    if code == IDENTITY and length > MAX_IDENTITY_DIGEST:
        raise UsageError(f"identity CID over {MAX_IDENTITY_DIGEST} bytes refused")


def _check_multihash(mh: bytes) -> None:
    code, pos = varint.decode(mh, 0)
    if code not in HASHES:
        raise UsageError(f"unsupported multihash 0x{code:x}")
    length, pos = varint.decode(mh, pos)
    _check_digest_len(code, length)
    if len(mh) - pos != length:
        raise UsageError("multihash length does not match its digest")
