"""UnixFS v1 with the unixfs-v1-2025 profile (IPIP-0499): build and walk.

Spec: https://specs.ipfs.tech/unixfs/ and IPIP-0499. Profile: CIDv1, sha2-256, raw
leaves, fixed 1 MiB chunks, balanced DAG with 1024 links per node, a single-chunk file
is its raw leaf, directories are dag-pb nodes with links sorted by UTF-8 name bytes and
a directory whose block would exceed 262144 bytes would be a HAMT shard, which we
refuse. Building reads every file once: the CIDs and the whole-file sha256 come from
the same bytes, so what is hashed is exactly what was read.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import stat
import unicodedata
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Protocol

from ..errors import LimitExceeded, UsageError, VerificationError
from . import dagpb, varint
from .cid import CID, DAG_PB, IDENTITY, RAW

CHUNK_SIZE = 1 << 20
MAX_LINKS = 1024
HAMT_THRESHOLD = 262144
MAX_BUILD_DEPTH = 256

# UnixFS Data.Type values
T_RAW, T_DIRECTORY, T_FILE, T_METADATA, T_SYMLINK, T_HAMT = range(6)

Sink = Callable[[CID, bytes], None]
Reader = Callable[[int], bytes]


# -- UnixFS Data protobuf ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UnixFSData:
    type: int
    data: bytes | None = None
    filesize: int | None = None
    blocksizes: tuple[int, ...] = ()
    hash_type: int | None = None
    fanout: int | None = None


def encode_data(d: UnixFSData) -> bytes:
    """Fields in number order; blocksizes repeated, not packed (as Kubo writes them)."""
    out = bytearray((0x08,))
    out += varint.encode(d.type)
    if d.data is not None:
        out.append(0x12)
        out += varint.encode(len(d.data))
        out += d.data
    if d.filesize is not None:
        out.append(0x18)
        out += varint.encode(d.filesize)
    for size in d.blocksizes:
        out.append(0x20)
        out += varint.encode(size)
    if d.hash_type is not None:
        out.append(0x28)
        out += varint.encode(d.hash_type)
    if d.fanout is not None:
        out.append(0x30)
        out += varint.encode(d.fanout)
    return bytes(out)


def decode_data(buf: bytes) -> UnixFSData:
    """Strict parse: known fields in order, only blocksizes repeated; mode/mtime skipped."""
    pos, end, last = 0, len(buf), 0
    values: dict[int, int | bytes] = {}
    blocksizes: list[int] = []
    while pos < end:
        tag, pos = varint.decode(buf, pos)
        num, wire = tag >> 3, tag & 7
        expected = {1: 0, 2: 2, 3: 0, 4: 0, 5: 0, 6: 0, 7: 0, 8: 2}.get(num)
        if expected is None or wire != expected:
            raise UsageError(f"unixfs: unexpected field {num} (wire type {wire})")
        if num < last or (num == last and num != 4):
            raise UsageError("unixfs: fields duplicated or out of order")
        last = num
        if wire == 0:
            value, pos = varint.decode(buf, pos)
            if num == 4:
                blocksizes.append(value)
            elif num != 7:
                values[num] = value
        else:
            length, pos = varint.decode(buf, pos)
            if pos + length > end:
                raise UsageError("unixfs: field runs past the end")
            if num == 2:
                values[2] = buf[pos : pos + length]
            pos += length
    if 1 not in values:
        raise UsageError("unixfs: Data without Type")

    def _int(n: int) -> int | None:
        v = values.get(n)
        return v if isinstance(v, int) else None

    raw = values.get(2)
    return UnixFSData(
        type=_int(1) or 0,
        data=raw if isinstance(raw, bytes) else None,
        filesize=_int(3),
        blocksizes=tuple(blocksizes),
        hash_type=_int(5),
        fanout=_int(6),
    )


DIR_DATA = encode_data(UnixFSData(T_DIRECTORY))


# -- names -------------------------------------------------------------------------

_DRIVE = re.compile(r"^[A-Za-z]:")


def check_name(name: str, where: str) -> None:
    """Refuse names that could escape or alias on some file system (case 20)."""
    if name in ("", ".", ".."):
        raise UsageError(f"invalid name {name!r} in {where}")
    if "/" in name or "\\" in name or "\0" in name or _DRIVE.match(name):
        raise UsageError(f"invalid name {name!r} in {where}: separators, NUL or drive letter")
    try:
        name.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise UsageError(f"name in {where} is not valid UTF-8: {name!r}") from exc


def fold_name(name: str) -> str:
    """Key under which two names collide on case-insensitive, normalising file systems."""
    return unicodedata.normalize("NFC", name).casefold()


def _check_collisions(names: list[str], where: str) -> None:
    seen: dict[str, str] = {}
    for name in names:
        key = fold_name(name)
        if key in seen:
            raise UsageError(
                f"names {seen[key]!r} and {name!r} in {where} collide on case-insensitive systems"
            )
        seen[key] = name


# -- building ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FileEntry:
    cid: CID
    size: int
    sha256: str


@dataclass(frozen=True, slots=True)
class AddResult:
    """Result of add_path. `files` maps POSIX paths relative to the added directory to
    their entries; for a single file the key is the file's own name."""

    root: CID
    size: int
    files: Mapping[str, FileEntry] = field(default_factory=dict)
    skipped_hidden: tuple[str, ...] = ()


def _read_full(read: Reader, n: int) -> bytes:
    data = read(n)
    if len(data) == n or not data:
        return data
    parts = [data]
    got = len(data)
    while got < n:
        more = read(n - got)
        if not more:
            break
        parts.append(more)
        got += len(more)
    return b"".join(parts)


def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


class _Builder:
    def __init__(self, sink: Sink | None, file_digests: bool = True) -> None:
        self.sink = sink
        self.file_digests = file_digests
        self.seen: set[bytes] = set()
        self.files: dict[str, FileEntry] = {}
        self.hidden: list[str] = []
        self._pool: ThreadPoolExecutor | None = None

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)

    def emit(self, cid: CID, block: bytes) -> None:
        if self.sink is None:
            return
        key = cid.multihash
        if key in self.seen:  # identical blocks are stored once
            return
        self.seen.add(key)
        self.sink(cid, block)

    def _pool_get(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sha256")
        return self._pool

    def _node(self, links: list[tuple[CID, int, int]]) -> tuple[CID, int, int]:
        """Commit one internal file node; returns (cid, tsize, filesize)."""
        sizes = tuple(fs for _, _, fs in links)
        filesize = sum(sizes)
        data = encode_data(UnixFSData(T_FILE, filesize=filesize, blocksizes=sizes))
        node = dagpb.PBNode(tuple(dagpb.PBLink(c, "", t) for c, t, _ in links), data)
        block = dagpb.encode(node)
        cid = CID.dag_pb(block)
        self.emit(cid, block)
        return cid, len(block) + sum(t for _, t, _ in links), filesize

    def file(self, read: Reader) -> tuple[FileEntry, int]:
        """Chunk, hash and emit one file from `read`; returns (entry, tsize)."""
        chunk = _read_full(read, CHUNK_SIZE)
        nxt = _read_full(read, CHUNK_SIZE) if len(chunk) == CHUNK_SIZE else b""
        if not nxt:  # single chunk: its raw leaf digest is also the file's sha256
            digest = hashlib.sha256(chunk).digest()
            cid = CID.from_digest(RAW, digest)
            self.emit(cid, chunk)
            return FileEntry(cid, len(chunk), digest.hex()), len(chunk)

        whole = hashlib.sha256() if self.file_digests else None
        pool = self._pool_get()
        # levels[k] holds links of the open node at height k+1; a full level is only
        # flushed when more data arrives, which yields Kubo's balanced layout.
        levels: list[list[tuple[CID, int, int]]] = [[]]

        def push(level: int, link: tuple[CID, int, int]) -> None:
            if level == len(levels):
                levels.append([])
            if len(levels[level]) == MAX_LINKS:
                push(level + 1, self._node(levels[level]))
                levels[level] = []
            levels[level].append(link)

        # The second core hashes: the whole-file digest when asked for, else the next
        # leaves, so reading, leaf hashing and writing the sink overlap.
        pending: deque[tuple[Future[bytes] | None, bytes]] = deque()

        def settle(digest_future: Future[bytes] | None, data: bytes) -> None:
            digest = digest_future.result() if digest_future else hashlib.sha256(data).digest()
            cid = CID.from_digest(RAW, digest)
            self.emit(cid, data)
            push(0, (cid, len(data), len(data)))

        whole_pending: deque[Future[None]] = deque()
        while chunk:
            if whole is not None:
                whole_pending.append(pool.submit(whole.update, chunk))
                if len(whole_pending) > 4:
                    whole_pending.popleft().result()
                settle(None, chunk)
            else:
                pending.append((pool.submit(_sha256, chunk), chunk))
                if len(pending) > 4:
                    settle(*pending.popleft())
            chunk, nxt = nxt, (_read_full(read, CHUNK_SIZE) if nxt else b"")
        while pending:
            settle(*pending.popleft())
        for fut in whole_pending:
            fut.result()

        level = 0
        while True:
            link = self._node(levels[level])
            if level == len(levels) - 1:
                break
            levels[level] = []
            push(level + 1, link)
            level += 1
        root, tsize, filesize = link
        return FileEntry(root, filesize, whole.hexdigest() if whole else ""), tsize

    def path_file(self, path: str, rel: str) -> tuple[FileEntry, int]:
        flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
        label = rel or os.path.basename(path)
        try:
            fd = os.open(path, flags)
        except OSError as exc:
            raise UsageError(f"cannot read {label}: {exc.strerror}") from exc
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise UsageError(f"{label} is not a regular file")
            try:
                entry, tsize = self.file(lambda n: os.read(fd, n))
                size_after = os.fstat(fd).st_size
            except OSError as exc:
                raise UsageError(f"cannot read {label}: {exc.strerror}") from exc
        finally:
            os.close(fd)
        if entry.size != st.st_size or size_after != st.st_size:
            raise UsageError(f"{label} changed while being read; try again")
        return entry, tsize

    def directory(self, path: str, rel: str, depth: int) -> tuple[CID, int]:
        where = rel or "."
        if depth > MAX_BUILD_DEPTH:
            raise LimitExceeded(f"directory nesting deeper than {MAX_BUILD_DEPTH} at {where}")
        try:
            with os.scandir(path) as it:
                entries = list(it)
        except OSError as exc:
            raise UsageError(f"cannot list {where}: {exc.strerror}") from exc
        kept = []
        for entry in entries:
            child_rel = f"{rel}/{entry.name}" if rel else entry.name
            check_name(entry.name, where)
            if entry.name.startswith("."):
                self.hidden.append(child_rel)
                continue
            kept.append(entry)
        _check_collisions([e.name for e in kept], where)
        kept.sort(key=lambda e: e.name.encode("utf-8"))

        links: list[dagpb.PBLink] = []
        total = 0
        for entry in kept:
            child_rel = f"{rel}/{entry.name}" if rel else entry.name
            if entry.is_symlink():
                raise UsageError(f"symlinks are not allowed: {child_rel}")
            if entry.is_dir(follow_symlinks=False):
                cid, tsize = self.directory(entry.path, child_rel, depth + 1)
            elif entry.is_file(follow_symlinks=False):
                fentry, tsize = self.path_file(entry.path, child_rel)
                self.files[child_rel] = fentry
                cid = fentry.cid
            else:
                raise UsageError(f"not a regular file or directory (FIFO, device?): {child_rel}")
            links.append(dagpb.PBLink(cid, entry.name, tsize))
            total += tsize
        block = dagpb.encode(dagpb.PBNode(tuple(links), DIR_DATA))
        if len(block) > HAMT_THRESHOLD:
            raise LimitExceeded(
                f"directory {where} is too large for one block ({len(block)} > "
                f"{HAMT_THRESHOLD} bytes); HAMT sharding is not supported, split it"
            )
        cid = CID.dag_pb(block)
        self.emit(cid, block)
        return cid, len(block) + total


def add_path(path: Path, sink: Sink | None = None, *, file_digests: bool = True) -> AddResult:
    """CIDs of a file or directory tree, in one streaming read of every file.

    `sink` receives every distinct block once, children before parents. Hidden names
    (starting with '.') inside a directory are left out and listed in skipped_hidden.
    With file_digests=False the whole-file sha256 of multi-chunk files is not computed
    (FileEntry.sha256 is then "" for them), which frees a core for leaf hashing.
    """
    path = Path(path)
    try:
        st = os.lstat(path)
    except OSError as exc:
        raise UsageError(f"cannot read {path.name or path}: {exc.strerror}") from exc
    builder = _Builder(sink, file_digests)
    try:
        if stat.S_ISLNK(st.st_mode):
            raise UsageError(f"symlinks are not allowed: {path.name}")
        if stat.S_ISDIR(st.st_mode):
            root, tsize = builder.directory(str(path), "", 0)
        elif stat.S_ISREG(st.st_mode):
            entry, tsize = builder.path_file(str(path), path.name)
            builder.files[path.name] = entry
            root = entry.cid
        else:
            raise UsageError(f"not a regular file or directory: {path.name}")
    finally:
        builder.close()
    return AddResult(root, tsize, builder.files, tuple(builder.hidden))


def add_stream(stream: BinaryIO, sink: Sink | None = None) -> tuple[FileEntry, int]:
    """Chunk and hash one file from a readable stream; returns (entry, tsize)."""
    builder = _Builder(sink)
    try:
        return builder.file(stream.read)
    finally:
        builder.close()


def add_bytes(data: bytes) -> tuple[FileEntry, int]:
    """(entry, tsize) of bytes stored as one UnixFS file."""
    return add_stream(io.BytesIO(data))


def file_cid(data: bytes) -> CID:
    """The CID of bytes stored as one UnixFS file (unixfs-v1-2025)."""
    return add_bytes(data)[0].cid


# Every CID in our layout (CIDv1, sha2-256, raw or dag-pb) encodes to the same length,
# so a stand-in CID gives a node's exact block size without the data.
_STAND_IN = CID.from_digest(RAW, bytes(32))


def file_tsize(size: int) -> int:
    """The cumulative DAG size (Tsize) of a file of `size` bytes in our layout.

    It depends on the size alone: the balanced DAG has height H = ceil(log1024(leaves)),
    every node's children are full subtrees except the last, and a full subtree of a
    given height always encodes the same. Computed from at most two node encodings
    per level, never by hashing stand-in bytes, so any declared size costs
    microseconds.
    """
    if size < 0:
        raise UsageError(f"negative file size {size}")
    if size <= CHUNK_SIZE:
        return size
    leaves = -(-size // CHUNK_SIZE)
    height = 1
    while MAX_LINKS**height < leaves:
        height += 1
    full: dict[int, tuple[int, int]] = {0: (CHUNK_SIZE, CHUNK_SIZE)}  # height -> (tsize, bytes)

    def node(children: list[tuple[int, int]]) -> tuple[int, int]:
        data = encode_data(
            UnixFSData(
                T_FILE,
                filesize=sum(b for _, b in children),
                blocksizes=tuple(b for _, b in children),
            )
        )
        links = tuple(dagpb.PBLink(_STAND_IN, "", t) for t, _ in children)
        block = dagpb.encode(dagpb.PBNode(links, data))
        return len(block) + sum(t for t, _ in children), sum(b for _, b in children)

    def full_tree(h: int) -> tuple[int, int]:
        if h not in full:
            full[h] = node([full_tree(h - 1)] * MAX_LINKS)
        return full[h]

    def tree(h: int, count: int, last: int) -> tuple[int, int]:
        """A subtree of height h over `count` leaves, the last one `last` bytes long."""
        if h == 0:
            return last, last
        per_child = MAX_LINKS ** (h - 1)
        whole, rest = divmod(count, per_child)
        if rest == 0:
            whole, rest = whole - 1, per_child
        children = [full_tree(h - 1)] * whole + [tree(h - 1, rest, last)]
        return node(children)

    return tree(height, leaves, size - (leaves - 1) * CHUNK_SIZE)[0]


# -- walking a verified block store ---------------------------------------------


class BlockGetter(Protocol):
    def get(self, cid: CID) -> bytes: ...


@dataclass(frozen=True, slots=True)
class WalkLimits:
    max_depth: int = 64
    max_blocks: int = 1_000_000
    max_entries: int = 100_000
    max_bytes: int = 1 << 36


@dataclass(frozen=True, slots=True)
class Entry:
    """One file or directory; `size` is the file's byte size (0 for directories).
    `chunks()` yields the file's bytes, checking every size on the way."""

    path: str
    kind: str
    cid: CID
    size: int
    chunks: Callable[[], Iterator[bytes]]


class _Budget:
    def __init__(self, limits: WalkLimits) -> None:
        self.limits = limits
        self.blocks = 0
        self.entries = 0
        self.bytes = 0

    def block(self) -> None:
        self.blocks += 1
        if self.blocks > self.limits.max_blocks:
            raise LimitExceeded(f"DAG visits more than {self.limits.max_blocks} blocks")

    def entry(self, size: int) -> None:
        self.entries += 1
        self.bytes += size
        if self.entries > self.limits.max_entries:
            raise LimitExceeded(f"DAG has more than {self.limits.max_entries} entries")
        if self.bytes > self.limits.max_bytes:
            raise LimitExceeded(f"DAG holds more than {self.limits.max_bytes} bytes")


def _fetch(store: BlockGetter, cid: CID, budget: _Budget) -> bytes:
    budget.block()
    if cid.hash_code == IDENTITY:
        return cid.digest
    return store.get(cid)


def _parse_node(cid: CID, block: bytes) -> tuple[dagpb.PBNode, UnixFSData]:
    if cid.codec != DAG_PB:
        raise UsageError(f"unsupported codec in a UnixFS DAG: {cid}")
    node = dagpb.decode(block)
    if node.data is None:
        raise UsageError(f"dag-pb node without UnixFS data: {cid}")
    return node, decode_data(node.data)


def _file_chunks(
    store: BlockGetter, cid: CID, size: int, budget: _Budget
) -> Callable[[], Iterator[bytes]]:
    def chunks() -> Iterator[bytes]:
        produced = 0
        # (cid, expected byte size or None, depth)
        stack: list[tuple[CID, int | None, int]] = [(cid, size, 0)]
        while stack:
            cur, expect, depth = stack.pop()
            if depth > budget.limits.max_depth:
                raise LimitExceeded(f"file DAG deeper than {budget.limits.max_depth}")
            block = _fetch(store, cur, budget)
            if cur.codec == RAW:
                data, children = block, []
            else:
                node, fs = _parse_node(cur, block)
                if fs.type not in (T_FILE, T_RAW):
                    raise UsageError(f"unexpected UnixFS type {fs.type} inside a file: {cur}")
                if len(fs.blocksizes) != len(node.links):
                    raise VerificationError(f"file node blocksizes do not match links: {cur}")
                data = fs.data or b""
                children = list(zip(node.links, fs.blocksizes, strict=True))
                declared = len(data) + sum(fs.blocksizes)
                if fs.filesize is not None and fs.filesize != declared:
                    raise VerificationError(f"file node size does not add up: {cur}")
                if expect is not None and declared != expect:
                    raise VerificationError(f"file node has the wrong size: {cur}")
                expect = None
            if expect is not None and len(data) != expect:
                raise VerificationError(f"file block has the wrong size: {cur}")
            if data:
                produced += len(data)
                if produced > size:
                    raise VerificationError(f"file is longer than declared: {cid}")
                yield data
            for link, bsize in reversed(children):
                stack.append((link.hash, bsize, depth + 1))
        if produced != size:
            raise VerificationError(f"file is shorter than declared: {cid}")

    return chunks


def walk(store: BlockGetter, root: CID, limits: WalkLimits | None = None) -> Iterator[Entry]:
    """Entries of the UnixFS DAG at `root`, parents first, children in name order.

    The root itself comes first with path "" (a file or a directory). Every block is
    fetched through `store`, which must verify hashes; sizes, names and limits are
    checked here.
    """
    budget = _Budget(limits or WalkLimits())
    stack: list[tuple[str, CID, int]] = [("", root, 0)]
    while stack:
        path, cid, depth = stack.pop()
        if depth > budget.limits.max_depth:
            raise LimitExceeded(f"directory tree deeper than {budget.limits.max_depth}")
        block = _fetch(store, cid, budget)
        if cid.codec == RAW:
            budget.entry(len(block))
            yield Entry(path, "file", cid, len(block), _file_chunks(store, cid, len(block), budget))
            continue
        node, fs = _parse_node(cid, block)
        if fs.type in (T_FILE, T_RAW):
            size = len(fs.data or b"") + sum(fs.blocksizes)
            budget.entry(size)
            yield Entry(path, "file", cid, size, _file_chunks(store, cid, size, budget))
            continue
        if fs.type == T_HAMT:
            raise UsageError(f"HAMT sharded directories are not supported: {path or cid}")
        if fs.type != T_DIRECTORY:
            raise UsageError(f"unsupported UnixFS type {fs.type} at {path or cid}")
        budget.entry(0)
        yield Entry(path, "dir", cid, 0, lambda: iter(()))
        where = path or "."
        names: list[str] = []
        for link in node.links:
            if link.name is None:
                raise UsageError(f"directory entry without a name in {where}")
            check_name(link.name, where)
            names.append(link.name)
        if len(set(names)) != len(names):
            raise UsageError(f"duplicate directory entries in {where}")
        _check_collisions(names, where)
        order = sorted(node.links, key=lambda lk: (lk.name or "").encode("utf-8"))
        for link in reversed(order):
            child = f"{path}/{link.name}" if path else str(link.name)
            stack.append((child, link.hash, depth + 1))
