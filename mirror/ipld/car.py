"""CAR files: write CARv1, read CARv1/CARv2 with every block verified.

Specs: https://ipld.io/specs/transport/car/carv1/ and .../carv2/. A CARv1 is a
varint-prefixed dag-cbor header {roots: [CID], version: 1} followed by sections
varint(len) | CID | block. Reading makes one streaming pass that hashes every block
and keeps only an index CID -> (offset, length); blocks not reachable from the root
are dropped from the index, so they can never be served. A CARv2 index is never used.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO, BinaryIO

from ..errors import LimitExceeded, StorageError, UsageError, VerificationError
from ..store import fsync_dir, kill_point, storage_error
from . import dagpb, varint
from .cid import CID, DAG_CBOR, DAG_PB, IDENTITY, RAW, SHA2_256
from .unixfs import AddResult, BlockGetter, add_path

MAX_HEADER = 64 * 1024
MAX_CID_BYTES = 128 + 8
CARV2_PRAGMA = bytes.fromhex("0aa16776657273696f6e02")
CARV2_HEADER = 40
COPY_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class CarLimits:
    max_block_size: int = 2 * 1024 * 1024
    max_blocks: int = 1_000_000
    max_depth: int = 1024


# -- dag-cbor, only as much as a CAR header needs --------------------------------


def _cbor_head(major: int, value: int) -> bytes:
    if value < 24:
        return bytes((major << 5 | value,))
    for info, size in ((24, 1), (25, 2), (26, 4), (27, 8)):
        if value < 1 << (8 * size):
            return bytes((major << 5 | info,)) + value.to_bytes(size, "big")
    raise UsageError("cbor value too large")


def header_bytes(roots: list[CID]) -> bytes:
    """The varint-prefixed CARv1 header, keys in dag-cbor order (length, then bytes)."""
    body = bytearray(b"\xa2\x65roots")
    body += _cbor_head(4, len(roots))
    for root in roots:
        raw = b"\x00" + root.to_bytes()
        body += b"\xd8\x2a" + _cbor_head(2, len(raw)) + raw
    body += b"\x67version\x01"
    return varint.encode(len(body)) + bytes(body)


def _cbor_item(buf: bytes, pos: int, depth: int) -> tuple[object, int]:
    if depth > 4:
        raise UsageError("CAR header nested too deeply")
    if pos >= len(buf):
        raise UsageError("truncated CAR header")
    first = buf[pos]
    major, info = first >> 5, first & 31
    pos += 1
    if info < 24:
        arg = info
    elif info <= 27:
        size = 1 << (info - 24)
        if pos + size > len(buf):
            raise UsageError("truncated CAR header")
        arg = int.from_bytes(buf[pos : pos + size], "big")
        pos += size
        if arg < (24 if size == 1 else 1 << (4 * size)):
            raise UsageError("CAR header is not canonical dag-cbor")
    else:
        raise UsageError("CAR header uses unsupported cbor (indefinite length?)")
    if major == 0:
        return arg, pos
    if major in (2, 3):
        if pos + arg > len(buf):
            raise UsageError("truncated CAR header")
        raw = buf[pos : pos + arg]
        if major == 2:
            return raw, pos + arg
        try:
            return raw.decode("utf-8"), pos + arg
        except UnicodeDecodeError as exc:
            raise UsageError("CAR header has invalid UTF-8") from exc
    if major == 4:
        if arg > len(buf):
            raise UsageError("CAR header array too long")
        items = []
        for _ in range(arg):
            item, pos = _cbor_item(buf, pos, depth + 1)
            items.append(item)
        return items, pos
    if major == 5:
        if arg > len(buf):
            raise UsageError("CAR header map too long")
        out: dict[str, object] = {}
        for _ in range(arg):
            key, pos = _cbor_item(buf, pos, depth + 1)
            if not isinstance(key, str) or key in out:
                raise UsageError("CAR header has a bad or duplicate key")
            out[key], pos = _cbor_item(buf, pos, depth + 1)
        return out, pos
    if major == 6 and arg == 42:
        tagged, pos = _cbor_item(buf, pos, depth + 1)
        if not isinstance(tagged, bytes) or tagged[:1] != b"\x00":
            raise UsageError("CAR header has a malformed CID")
        cid, end = CID.from_bytes(tagged, 1)
        if end != len(tagged):
            raise UsageError("CAR header CID has trailing bytes")
        return cid, pos
    raise UsageError("CAR header has an unsupported cbor item")


def _parse_header(body: bytes) -> dict[str, object]:
    value, end = _cbor_item(body, 0, 0)
    if end != len(body) or not isinstance(value, dict):
        raise UsageError("CAR header is not a single map")
    return value


# -- reading -------------------------------------------------------------------------


class CarStore:
    """Verified blocks of one CAR, served by seeking; use as a context manager."""

    def __init__(
        self, fh: IO[bytes], roots: tuple[CID, ...], root: CID, index: dict[CID, tuple[int, int]]
    ) -> None:
        self._fh = fh
        self.roots = roots
        self.root = root
        self._index = index

    def __enter__(self) -> CarStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._fh.close()

    def __len__(self) -> int:
        return len(self._index)

    def __contains__(self, cid: object) -> bool:
        return cid in self._index

    def cids(self) -> list[CID]:
        return list(self._index)

    def get(self, cid: CID) -> bytes:
        if cid.hash_code == IDENTITY:
            return cid.digest
        where = self._index.get(cid)
        if where is None:
            raise VerificationError(f"block {cid} is missing from the CAR")
        offset, length = where
        try:
            self._fh.seek(offset)
            block = self._fh.read(length)
        except OSError as exc:
            raise StorageError(f"cannot read CAR: {exc.strerror}") from exc
        if len(block) != length:
            raise VerificationError("CAR file changed while being read")
        cid.verify(block)  # the file could have changed since it was indexed
        return block


def _read_exact(fh: IO[bytes], n: int, what: str) -> bytes:
    data = fh.read(n)
    if len(data) != n:
        raise UsageError(f"truncated CAR: {what}")
    return data


def _read_varint(fh: IO[bytes], what: str) -> int:
    value = varint.read(fh)
    if value is None:
        raise UsageError(f"truncated CAR: {what}")
    return value


def _v1_header(fh: IO[bytes]) -> tuple[CID, ...]:
    length = _read_varint(fh, "header length")
    if length == 0 or length > MAX_HEADER:
        raise UsageError(f"CAR header length {length} is absurd")
    header = _parse_header(_read_exact(fh, length, "header"))
    if set(header) != {"roots", "version"} or header["version"] != 1:
        raise UsageError("not a CARv1 header")
    roots = header["roots"]
    if not isinstance(roots, list) or not roots or not all(isinstance(r, CID) for r in roots):
        raise UsageError("CAR header roots must be a non-empty list of CIDs")
    return tuple(r for r in roots if isinstance(r, CID))


def _scan(
    fh: IO[bytes], start: int, end: int | None, limits: CarLimits
) -> tuple[tuple[CID, ...], dict[CID, tuple[int, int]]]:
    """One pass over a CARv1 body from `start` (to `end`, or EOF); verifies every block."""
    fh.seek(start)
    roots = _v1_header(fh)
    pos = fh.tell()
    index: dict[CID, tuple[int, int]] = {}
    count = 0
    max_section = limits.max_block_size + MAX_CID_BYTES
    while end is None or pos < end:
        length = varint.read(fh)
        if length is None:
            if end is not None:
                raise UsageError("truncated CAR: data ends early")
            break
        pos = fh.tell()
        if length == 0:
            raise UsageError("CAR section of length zero")
        if length > max_section:  # malformed input (case 23), refused before allocating
            raise UsageError(f"CAR block over {limits.max_block_size} bytes ({length} B section)")
        if end is not None and pos + length > end:
            raise UsageError("truncated CAR: section runs past the data")
        section = _read_exact(fh, length, "section")
        cid, cid_end = CID.from_bytes(section)
        if cid.codec not in (RAW, DAG_PB, DAG_CBOR):
            raise UsageError(f"unsupported codec in CAR: {cid}")
        block = memoryview(section)[cid_end:]
        if len(block) > limits.max_block_size:
            raise UsageError(f"CAR block {cid} over {limits.max_block_size} bytes")
        if cid.hash_code == SHA2_256:
            if hashlib.sha256(block).digest() != cid.digest:
                raise VerificationError(f"CAR block does not match its CID {cid}")
        else:
            cid.verify(block)
        count += 1
        if count > limits.max_blocks:
            raise LimitExceeded(f"CAR holds more than {limits.max_blocks} blocks")
        index.setdefault(cid, (pos + cid_end, len(block)))
        pos += length
    return roots, index


def _reachable(
    fh: IO[bytes], index: dict[CID, tuple[int, int]], root: CID, limits: CarLimits
) -> dict[CID, tuple[int, int]]:
    """The index restricted to blocks reachable from root; anything missing fails."""
    if root not in index and root.hash_code != IDENTITY:
        raise VerificationError(f"the CAR does not contain its root {root}")
    keep: dict[CID, tuple[int, int]] = {}
    stack: list[tuple[CID, int]] = [(root, 0)]
    seen: set[CID] = {root}
    while stack:
        cid, depth = stack.pop()
        if depth > limits.max_depth:
            raise LimitExceeded(f"DAG deeper than {limits.max_depth} levels")
        if cid.hash_code == IDENTITY:
            block = cid.digest
        else:
            where = index.get(cid)
            if where is None:
                raise VerificationError(f"the CAR lacks block {cid} (dangling link)")
            keep[cid] = where
            if cid.codec != DAG_PB:
                if cid.codec == DAG_CBOR:
                    raise UsageError(f"dag-cbor blocks are not supported in bundles: {cid}")
                continue
            fh.seek(where[0])
            block = fh.read(where[1])
        if cid.codec == DAG_CBOR:
            raise UsageError(f"dag-cbor blocks are not supported in bundles: {cid}")
        if cid.codec != DAG_PB:
            continue
        for link in dagpb.decode(block).links:
            if link.hash not in seen:
                seen.add(link.hash)
                stack.append((link.hash, depth + 1))
    return keep


def _open(fh: IO[bytes], root: CID | None, limits: CarLimits) -> CarStore:
    try:
        size = os.fstat(fh.fileno()).st_size
        first = fh.read(len(CARV2_PRAGMA))
        if first == CARV2_PRAGMA:
            head = _read_exact(fh, CARV2_HEADER, "CARv2 header")
            data_offset = int.from_bytes(head[16:24], "little")
            data_size = int.from_bytes(head[24:32], "little")
            index_offset = int.from_bytes(head[32:40], "little")
            data_end = data_offset + data_size
            if data_offset < len(CARV2_PRAGMA) + CARV2_HEADER or data_end > size:
                raise UsageError("CARv2 header points outside the file")
            if index_offset and not data_end <= index_offset < size:
                raise UsageError("CARv2 index offset points inside the data or past the end")
            roots, index = _scan(fh, data_offset, data_end, limits)
        else:
            roots, index = _scan(fh, 0, None, limits)
        if root is None:
            if len(roots) != 1:
                raise UsageError(f"the CAR has {len(roots)} roots; name the one to use")
            root = roots[0]
        keep = _reachable(fh, index, root, limits)
    except OSError as exc:
        raise StorageError(f"cannot read CAR: {exc.strerror}") from exc
    return CarStore(fh, roots, root, keep)


def open_car(path: Path, *, root: CID | None = None, limits: CarLimits | None = None) -> CarStore:
    """Open and fully verify a CAR; serves only blocks reachable from `root`
    (default: the header's single root)."""
    try:
        fh = open(path, "rb")  # noqa: SIM115 - owned by the returned store
    except OSError as exc:
        raise UsageError(f"cannot open CAR {Path(path).name}: {exc.strerror}") from exc
    try:
        return _open(fh, root, limits or CarLimits())
    except BaseException:
        fh.close()
        raise


def open_car_stream(
    fileobj: BinaryIO,
    spool_dir: Path,
    *,
    root: CID | None = None,
    limits: CarLimits | None = None,
    max_bytes: int,
) -> CarStore:
    """Spool a CAR stream (HTTP body, node export) to an unnamed temp file, then open it."""
    try:
        fh = tempfile.TemporaryFile(dir=spool_dir)  # noqa: SIM115 - owned by the store
    except OSError as exc:
        raise storage_error(exc, spool_dir) from exc
    try:
        total = 0
        while True:
            chunk = fileobj.read(COPY_CHUNK)
            if not chunk:
                break
            total += len(chunk)
            if total > max_bytes:
                raise LimitExceeded(f"CAR stream larger than {max_bytes} bytes")
            fh.write(chunk)
        fh.flush()
        fh.seek(0)
        return _open(fh, root, limits or CarLimits())
    except OSError as exc:
        fh.close()
        raise storage_error(exc, spool_dir) from exc
    except BaseException:
        fh.close()
        raise


# -- writing -------------------------------------------------------------------------


class _CarWriter:
    """Streams sections into a temp file next to `out`; commit() swaps it in."""

    def __init__(self, out: Path, placeholder: CID) -> None:
        self.out = out
        try:
            fd, name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
        except OSError as exc:
            raise storage_error(exc, out) from exc
        self.tmp = Path(name)
        self.fh = os.fdopen(fd, "wb", buffering=COPY_CHUNK)
        self.header_len = len(header_bytes([placeholder]))
        self.write(header_bytes([placeholder]))

    def write(self, data: bytes) -> None:
        try:
            self.fh.write(data)
        except OSError as exc:
            raise storage_error(exc, self.out) from exc

    def section(self, cid: CID, block: bytes) -> None:
        raw = cid.to_bytes()
        self.write(varint.encode(len(raw) + len(block)) + raw)
        self.write(block)

    def commit(self, root: CID) -> None:
        header = header_bytes([root])
        try:
            if len(header) != self.header_len:
                # only for roots of another shape (never for CIDv1 sha2-256): rewrite
                self.fh.flush()
                self._rewrite(header)
            else:
                self.fh.seek(0)
                self.fh.write(header)
            self.fh.flush()
            kill_point("car", "temp-written")
            os.fsync(self.fh.fileno())
            self.fh.close()
            kill_point("car", "fsynced")
            os.replace(self.tmp, self.out)
            kill_point("car", "renamed")
        except OSError as exc:
            self.abort()
            raise storage_error(exc, self.out) from exc
        fsync_dir(self.out.parent)

    def _rewrite(self, header: bytes) -> None:
        fd, name = tempfile.mkstemp(prefix=f".{self.out.name}.", suffix=".tmp", dir=self.out.parent)
        with os.fdopen(fd, "wb") as dst, open(self.tmp, "rb") as src:
            dst.write(header)
            src.seek(self.header_len)
            shutil.copyfileobj(src, dst, COPY_CHUNK)
        self.fh.close()
        os.replace(name, self.tmp)
        self.fh = open(self.tmp, "r+b")  # noqa: SIM115 - closed in commit

    def abort(self) -> None:
        with contextlib.suppress(OSError):
            self.fh.close()
        with contextlib.suppress(OSError):
            self.tmp.unlink()


def write_car(path: Path, out: Path) -> AddResult:
    """Add a file or directory (unixfs-v1-2025) and write it as a CARv1 at `out`,
    atomically, in one read of the data. Whole-file sha256 digests are not computed
    (a CAR needs only CIDs): `files[...].sha256` is "" for multi-chunk files."""
    out = Path(out)
    writer = _CarWriter(out, CID.from_digest(DAG_PB, bytes(32)))
    try:
        result = add_path(Path(path), writer.section, file_digests=False)
    except BaseException:
        writer.abort()
        raise
    writer.commit(result.root)
    return result


def export_car(store: BlockGetter, root: CID, out: Path) -> int:
    """Write a clean CARv1 holding exactly the blocks reachable from root (each once);
    returns the number of blocks written."""
    out = Path(out)
    writer = _CarWriter(out, root)
    count = 0
    try:
        stack = [root]
        seen = {root}
        while stack:
            cid = stack.pop()
            if cid.hash_code == IDENTITY:
                continue  # inline data needs no block
            block = store.get(cid)
            writer.section(cid, block)
            count += 1
            if cid.codec == DAG_PB:
                for link in reversed(dagpb.decode(block).links):
                    if link.hash not in seen:
                        seen.add(link.hash)
                        stack.append(link.hash)
    except BaseException:
        writer.abort()
        raise
    writer.commit(root)
    return count
