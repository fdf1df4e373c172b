"""Atomic writes fail cleanly on a full disk or read-only folder (simulated writer).

The real file systems (a full 64 KiB tmpfs, a read-only remount) are exercised in
tests/security/test_crash_safety.py where mounting is permitted; these run everywhere.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from mirror import store
from mirror.errors import StorageError


def _fail(code: int):  # type: ignore[no-untyped-def]
    def raiser(*_args: object, **_kwargs: object) -> None:
        raise OSError(code, os.strerror(code))

    return raiser


@pytest.mark.parametrize(
    "code, words", [(errno.ENOSPC, "no space left"), (errno.EROFS, "read-only")]
)
def test_failed_fsync_leaves_old_file_and_no_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int, words: str
) -> None:
    target = tmp_path / "trust.json"
    target.write_bytes(b"old")
    monkeypatch.setattr(os, "fsync", _fail(code))
    with pytest.raises(StorageError, match=words) as info:
        store.atomic_write(target, b"new" * 1000)
    assert info.value.exit_code == 6
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["trust.json"]


def test_read_only_folder_cannot_even_create_the_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store.tempfile, "mkstemp", _fail(errno.EROFS))
    with pytest.raises(StorageError, match="read-only"):
        store.atomic_write(tmp_path / "x.json", b"data")
    assert list(tmp_path.iterdir()) == []


def test_staged_directory_failure_keeps_the_old_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "bundle"
    target.mkdir()
    (target / "index.html").write_bytes(b"old page")
    with (
        pytest.raises(StorageError, match="no space left"),
        store.staged_directory(target) as stage,
    ):
        (stage / "index.html").write_bytes(b"new page")
        monkeypatch.setattr(os, "fsync", _fail(errno.ENOSPC))
    assert (target / "index.html").read_bytes() == b"old page"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bundle"]


def test_no_overwrite_refuses_existing_target(tmp_path: Path) -> None:
    target = tmp_path / "k.key"
    target.write_bytes(b"secret")
    with pytest.raises(Exception, match="already exists"):
        store.atomic_write(target, b"other", overwrite=False)
    assert target.read_bytes() == b"secret"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["k.key"]


def test_symlinked_target_is_refused(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.write_bytes(b"x")
    (tmp_path / "link").symlink_to(real)
    with pytest.raises(Exception, match="symlink"):
        store.atomic_write(tmp_path / "link", b"y")
    assert real.read_bytes() == b"x"
