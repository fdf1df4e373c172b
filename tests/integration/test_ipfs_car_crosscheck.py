"""Cross-check our CIDs against `ipfs-car pack` (npm ipfs-car, pinned in tests/tools).

ipfs-car 3.x uses the same profile by default (CIDv1, raw leaves, 1 MiB chunks, 1024
links) and has no flags for it. It drops the common path prefix of its inputs and
leaves out empty folders, so every folder here has two or more top-level entries and
no empty folders.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from mirror.ipld.car import open_car, write_car
from mirror.ipld.unixfs import walk

TOOL = Path(__file__).resolve().parents[1] / "tools" / "node_modules" / ".bin" / "ipfs-car"

pytestmark = [
    pytest.mark.npm,
    pytest.mark.skipif(
        not TOOL.exists() or shutil.which("node") is None,
        reason="ipfs-car not installed: run `npm install --no-audit --no-fund` in tests/tools",
    ),
]


def pack(src: Path, out: Path) -> str:
    proc = subprocess.run(
        [str(TOOL), "pack", str(src), "--output", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    return proc.stdout.strip().splitlines()[-1]


def build(root: Path, files: dict[str, bytes]) -> Path:
    for rel, data in files.items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return root


FOLDERS = {
    "multi_chunk": {
        "big.bin": os.urandom(3 * (1 << 20) + (1 << 19)),  # 3.5 MiB
        "exact.bin": os.urandom(1 << 20),
        "small.txt": b"small\n",
    },
    "empties_and_unicode": {
        "empty.txt": b"",
        "d/also-empty": b"",
        "Üñíçødé ☃.txt": b"snow",
        "日本語/記事.md": "# 見出し\n".encode(),
        "a b/c d/e": b"spaces",
    },
    "nested": {
        "index.html": b"<p>hi</p>",
        "assets/x.png": os.urandom(5000),
        "assets/deep/er/y.bin": os.urandom(2 * (1 << 20) + 1),
        "source/page.raw": b"raw bytes",
        "B": b"upper",
        "a": b"lower",
    },
}


@pytest.mark.parametrize("name", sorted(FOLDERS))
def test_same_root_as_ipfs_car(tmp_path: Path, name: str) -> None:
    src = build(tmp_path / name, FOLDERS[name])
    theirs = pack(src, tmp_path / "theirs.car")
    ours = write_car(src, tmp_path / "ours.car")
    assert ours.root.encode() == theirs
    # and their CAR passes our verifying reader with the same content
    with open_car(tmp_path / "theirs.car") as store:
        got = {e.path: b"".join(e.chunks()) for e in walk(store, store.root) if e.kind == "file"}
    assert got == FOLDERS[name]


def test_ipfs_car_reads_our_car(tmp_path: Path) -> None:
    src = build(tmp_path / "src", FOLDERS["nested"])
    ours = write_car(src, tmp_path / "ours.car")
    roots = subprocess.run(
        [str(TOOL), "roots", str(tmp_path / "ours.car")],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout.split()
    assert roots == [ours.root.encode()]
    out = tmp_path / "unpacked"
    subprocess.run(
        [str(TOOL), "unpack", str(tmp_path / "ours.car"), "--output", str(out)],
        capture_output=True,
        timeout=120,
        check=True,
    )
    for rel, data in FOLDERS["nested"].items():
        assert (out / rel).read_bytes() == data
