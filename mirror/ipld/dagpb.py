"""DAG-PB nodes: byte-exact encoding as Kubo writes them, strict decoding.

Spec: https://ipld.io/specs/codecs/dag-pb/spec/ — PBNode {Links: [PBLink] = 2, Data = 1},
PBLink {Hash = 1, Name = 2, Tsize = 3}. Encoders write Links before Data and the link
fields in order; Kubo writes Name even when it is empty. The decoder accepts only that
canonical shape: fields in order, each at most once, no unknown fields.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import UsageError
from . import varint
from .cid import CID

_LINK_TAG = 0x12  # field 2, length-delimited
_DATA_TAG = 0x0A  # field 1, length-delimited
_HASH_TAG = 0x0A
_NAME_TAG = 0x12
_TSIZE_TAG = 0x18  # field 3, varint


@dataclass(frozen=True, slots=True)
class PBLink:
    hash: CID
    name: str | None = ""
    tsize: int | None = None


@dataclass(frozen=True, slots=True)
class PBNode:
    links: tuple[PBLink, ...] = ()
    data: bytes | None = None


def encode_link(link: PBLink) -> bytes:
    cid = link.hash.to_bytes()
    parts = [bytes((_HASH_TAG,)), varint.encode(len(cid)), cid]
    if link.name is not None:
        name = link.name.encode("utf-8")
        parts += [bytes((_NAME_TAG,)), varint.encode(len(name)), name]
    if link.tsize is not None:
        parts += [bytes((_TSIZE_TAG,)), varint.encode(link.tsize)]
    body = b"".join(parts)
    return bytes((_LINK_TAG,)) + varint.encode(len(body)) + body


def encode(node: PBNode) -> bytes:
    parts = [encode_link(link) for link in node.links]
    if node.data is not None:
        parts += [bytes((_DATA_TAG,)), varint.encode(len(node.data)), node.data]
    return b"".join(parts)


def _bytes_field(buf: bytes, pos: int, end: int) -> tuple[bytes, int]:
    length, pos = varint.decode(buf, pos)
    stop = pos + length
    if stop > end:
        raise UsageError("dag-pb: field runs past the end of the block")
    return buf[pos:stop], stop


def _decode_link(buf: bytes, pos: int, end: int) -> PBLink:
    cid: CID | None = None
    name: str | None = None
    tsize: int | None = None
    last = 0
    while pos < end:
        tag = buf[pos]
        pos += 1
        field = {_HASH_TAG: 1, _NAME_TAG: 2, _TSIZE_TAG: 3}.get(tag)
        if field is None:
            raise UsageError(f"dag-pb: unexpected field tag 0x{tag:x} in link")
        if field <= last:
            raise UsageError("dag-pb: link fields duplicated or out of order")
        last = field
        if field == 1:
            raw, pos = _bytes_field(buf, pos, end)
            cid, used = CID.from_bytes(raw)
            if used != len(raw):
                raise UsageError("dag-pb: trailing bytes after link CID")
        elif field == 2:
            raw, pos = _bytes_field(buf, pos, end)
            try:
                name = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise UsageError("dag-pb: link name is not UTF-8") from exc
        else:
            tsize, pos = varint.decode(buf, pos)
            if pos > end:
                raise UsageError("dag-pb: Tsize runs past the end of the link")
    if cid is None:
        raise UsageError("dag-pb: link without Hash")
    return PBLink(cid, name, tsize)


def decode(block: bytes) -> PBNode:
    """Parse a dag-pb block strictly; malformed input raises UsageError."""
    buf = bytes(block)
    end = len(buf)
    pos = 0
    links: list[PBLink] = []
    data: bytes | None = None
    while pos < end:
        tag = buf[pos]
        pos += 1
        if tag == _LINK_TAG:
            if data is not None:
                raise UsageError("dag-pb: link after Data")
            length, pos = varint.decode(buf, pos)
            stop = pos + length
            if stop > end:
                raise UsageError("dag-pb: link runs past the end of the block")
            links.append(_decode_link(buf, pos, stop))
            pos = stop
        elif tag == _DATA_TAG:
            if data is not None:
                raise UsageError("dag-pb: Data appears twice")
            data, pos = _bytes_field(buf, pos, end)
        else:
            raise UsageError(f"dag-pb: unexpected field tag 0x{tag:x}")
    return PBNode(tuple(links), data)
