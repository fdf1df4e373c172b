"""Atomic file writes: every file is either the complete old or the complete new version.

A write goes to a temp file in the same directory, is fsynced, renamed over the
target, and the directory is fsynced. OSError becomes StorageError (exit 6) and the
temp file is removed, so a full disk or a read-only folder leaves nothing behind.

Crash tests set MIRROR_TEST_KILL_AT to a kill point name ("<label>:<step>", steps
"temp-written", "fsynced", "renamed"); the process then SIGKILLs itself there. The
variable is read on every write so a test subprocess can aim at any write path.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import signal
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from .config import Home
from .errors import LimitExceeded, StorageError, UsageError

KILL_ENV = "MIRROR_TEST_KILL_AT"


def kill_point(label: str, step: str) -> None:
    """Test-only crash hook: SIGKILL this process at the named point when asked."""
    target = os.environ.get(KILL_ENV)
    if target and target == f"{label}:{step}":
        os.kill(os.getpid(), signal.SIGKILL)


def storage_error(exc: OSError, path: Path | str) -> StorageError:
    """One-line message for a file-system failure, naming the path and the cause."""
    reason = {
        errno.ENOSPC: "no space left on device",
        errno.EROFS: "read-only file system",
        errno.EACCES: "permission denied",
        errno.EPERM: "operation not permitted",
        errno.EDQUOT: "disk quota exceeded",
    }.get(exc.errno or 0, exc.strerror or str(exc))
    return StorageError(f"cannot write {path}: {reason}")


def fsync_dir(directory: Path) -> None:
    with contextlib.suppress(OSError):  # not every file system can fsync a directory
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def atomic_write(
    path: Path,
    chunks: bytes | Iterable[bytes],
    *,
    mode: int = 0o644,
    label: str = "file",
    overwrite: bool = True,
) -> None:
    """Write `chunks` to `path` atomically (temp file, fsync, rename, fsync dir).

    With overwrite=False an existing target (or a symlink in its place) is refused
    and the final step uses link() so two writers cannot both win.
    """
    path = Path(path)
    if path.is_symlink():
        raise UsageError(f"refusing to write through a symlink: {path}")
    if not overwrite and path.exists():
        raise UsageError(f"{path} already exists")
    directory = path.parent
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise storage_error(exc, path) from exc
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            os.fchmod(out.fileno(), mode)
            if isinstance(chunks, bytes | bytearray | memoryview):
                out.write(chunks)
            else:
                for chunk in chunks:
                    out.write(chunk)
            out.flush()
            kill_point(label, "temp-written")
            os.fsync(out.fileno())
        kill_point(label, "fsynced")
        if overwrite:
            os.replace(tmp, path)
        else:
            os.link(tmp, path)  # fails if the target appeared meanwhile
            tmp.unlink()
        kill_point(label, "renamed")
        fsync_dir(directory)
    except FileExistsError as exc:
        tmp.unlink(missing_ok=True)
        raise UsageError(f"{path} already exists") from exc
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise storage_error(exc, path) from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_copy(src: Path, dest: Path, *, label: str = "file") -> None:
    """Copy `src` to `dest` atomically, streaming (memory stays flat)."""

    def chunks() -> Iterator[bytes]:
        with open(src, "rb") as fh:
            while chunk := fh.read(1 << 20):
                yield chunk

    try:
        atomic_write(dest, chunks(), label=label)
    except OSError as exc:
        raise storage_error(exc, dest) from exc


def read_bytes(path: Path, *, limit: int, what: str = "file") -> bytes:
    """Read a whole small file, refusing one larger than `limit` bytes."""
    try:
        with open(path, "rb") as f:
            data = f.read(limit + 1)
    except FileNotFoundError as exc:
        raise UsageError(f"{what} not found: {path}") from exc
    except IsADirectoryError as exc:
        raise UsageError(f"{what} is a directory: {path}") from exc
    except OSError as exc:
        raise StorageError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if len(data) > limit:
        raise LimitExceeded(f"{what} {path} is larger than {limit} bytes")
    return data


@contextlib.contextmanager
def staged_directory(target: Path, *, label: str = "dir") -> Iterator[Path]:
    """Build a directory in a hidden sibling, then swap it into place.

    Yields the staging path. On success the old target (if any) is replaced as a
    whole; on any error the staging directory is removed and the target untouched.
    """
    target = Path(target)
    if target.is_symlink():
        raise UsageError(f"refusing to write through a symlink: {target}")
    if target.exists() and not target.is_dir():
        raise UsageError(f"{target} exists and is not a directory")
    parent = target.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".staging", dir=parent))
    except OSError as exc:
        raise storage_error(exc, target) from exc
    try:
        yield staging
        kill_point(label, "temp-written")
        _fsync_tree(staging)
        kill_point(label, "fsynced")
        if target.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old", dir=parent))
            os.rename(target, old / "x")
            os.rename(staging, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(staging, target)
        kill_point(label, "renamed")
        fsync_dir(parent)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise storage_error(exc, target) from exc
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


@contextlib.contextmanager
def merged_directory(target: Path, *, label: str = "dir") -> Iterator[Path]:
    """Like staged_directory, for a target that already holds other things: yields a
    staging folder, then moves each of its files into `target`, keeping what else is
    there. Every place is checked before anything moves: a file may replace a file or
    a link (the link itself, never what it points to), never a folder; a folder may
    replace a link. Each file lands whole (rename)."""
    target = Path(target)
    try:
        staging = Path(
            tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".staging", dir=target.parent)
        )
    except OSError as exc:
        raise storage_error(exc, target) from exc
    try:
        yield staging
        kill_point(label, "temp-written")
        moves = _planned_moves(staging, target)
        _fsync_tree(staging)
        kill_point(label, "fsynced")
        for src, dest in moves:
            _make_parents(target, dest.parent)
            if dest.is_symlink():
                dest.unlink()
            os.replace(src, dest)
            fsync_dir(dest.parent)
        kill_point(label, "renamed")
    except OSError as exc:
        raise storage_error(exc, target) from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _planned_moves(staging: Path, target: Path) -> list[tuple[Path, Path]]:
    moves: list[tuple[Path, Path]] = []
    for base, _dirs, files in os.walk(staging):
        for name in files:
            src = Path(base) / name
            rel = src.relative_to(staging)
            place = target
            for part in rel.parts[:-1]:
                place = place / part
                if not place.is_symlink() and place.exists() and not place.is_dir():
                    raise UsageError(f"refusing to replace {place}: a file where a folder goes")
                if place.is_symlink():
                    break  # replaced by a real folder; nothing below it is looked at
            dest = target / rel
            if not dest.is_symlink() and dest.exists() and not dest.is_file():
                raise UsageError(f"refusing to replace {dest}: a folder where a file goes")
            moves.append((src, dest))
    return moves


def _make_parents(target: Path, directory: Path) -> None:
    """Create `directory` under `target`, replacing links on the way by real folders."""
    place = target
    for part in directory.relative_to(target).parts:
        place = place / part
        if place.is_symlink():
            place.unlink()
        place.mkdir(exist_ok=True)


def _fsync_tree(root: Path) -> None:
    for base, _dirs, files in os.walk(root):
        for name in files:
            fd = os.open(os.path.join(base, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        fsync_dir(Path(base))


@contextlib.contextmanager
def scratch_dir(home: Home) -> Iterator[Path]:
    """A temporary folder inside the data directory (same file system, cleaned up)."""
    base = home.root / "tmp"
    try:
        base.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise storage_error(exc, base) from exc
    with tempfile.TemporaryDirectory(prefix="work-", dir=base) as name:
        yield Path(name)
