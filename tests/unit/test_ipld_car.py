"""CAR read/write (https://ipld.io/specs/transport/car/carv1/ and carv2/)."""

from __future__ import annotations

import io
import os
import struct
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mirror.ipld import varint
from mirror.ipld.car import (
    CARV2_PRAGMA,
    export_car,
    header_bytes,
    open_car,
    open_car_stream,
    write_car,
)
from mirror.ipld.cid import CID
from mirror.ipld.unixfs import CHUNK_SIZE, walk


def carv2(v1: bytes, index: bytes = b"") -> bytes:
    """Wrap a CARv1 as CARv2: pragma, 40-byte header, padding, data, optional index."""
    data_offset = len(CARV2_PRAGMA) + 40 + 5
    index_offset = data_offset + len(v1) if index else 0
    header = bytes(16) + struct.pack("<QQQ", data_offset, len(v1), index_offset)
    return CARV2_PRAGMA + header + bytes(5) + v1 + index


def read_tree(root: Path) -> dict[str, bytes]:
    out = {}
    for dirpath, _, files in os.walk(root):
        for name in files:
            full = Path(dirpath) / name
            out[full.relative_to(root).as_posix()] = full.read_bytes()
    return out


def test_header_layout() -> None:
    root = CID.raw(b"hello world")
    raw = header_bytes([root])
    length, pos = varint.decode(raw)
    assert length == len(raw) - pos
    body = raw[pos:]
    assert body.startswith(b"\xa2\x65roots\x81\xd8\x2a\x58\x25\x00" + root.to_bytes())
    assert body.endswith(b"\x67version\x01")


def test_write_then_read(tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "a").mkdir(parents=True)
    (src / "a" / "big.bin").write_bytes(os.urandom(CHUNK_SIZE * 2 + 77))
    (src / "index.html").write_bytes(b"<p>hi</p>")
    (src / "empty").write_bytes(b"")
    out = tmp_path / "x.car"
    result = write_car(src, out)
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    with open_car(out) as store:
        assert store.roots == (result.root,)
        got = {e.path: b"".join(e.chunks()) for e in walk(store, store.root) if e.kind == "file"}
    assert got == read_tree(src)


def test_single_file_car(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"hello world")
    result = write_car(tmp_path / "f", tmp_path / "f.car")
    assert set(result.files) == {"f"}
    with open_car(tmp_path / "f.car") as store:
        assert store.get(result.root) == b"hello world"


def test_carv2_is_read_and_its_index_ignored(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a").write_bytes(b"aaa")
    v1 = tmp_path / "v1.car"
    result = write_car(tmp_path / "src", v1)
    v2 = tmp_path / "v2.car"
    v2.write_bytes(carv2(v1.read_bytes(), index=b"\x80\x04" + os.urandom(64)))
    with open_car(v2) as store:
        files = [b"".join(e.chunks()) for e in walk(store, result.root) if e.kind == "file"]
    assert files == [b"aaa"]


def test_export_car_keeps_only_reachable(tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "sub" / "x").write_bytes(b"x" * 100)
    (src / "y").write_bytes(b"y")
    whole = tmp_path / "whole.car"
    write_car(src, whole)
    sub_root = CID.decode(str(write_car(src / "sub", tmp_path / "sub.car").root))
    with open_car(whole, root=sub_root) as store:
        assert len(store) == 2  # the sub directory and its file, nothing else
        export_car(store, sub_root, tmp_path / "exported.car")
    with open_car(tmp_path / "exported.car") as a, open_car(tmp_path / "sub.car") as b:
        assert a.roots == b.roots == (sub_root,)
        assert {c: a.get(c) for c in a.cids()} == {c: b.get(c) for c in b.cids()}
    exported = (tmp_path / "exported.car").stat().st_size
    assert exported == (tmp_path / "sub.car").stat().st_size  # same blocks, each once


def test_open_car_stream(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"streamed")
    result = write_car(tmp_path / "f", tmp_path / "f.car")
    body = io.BytesIO((tmp_path / "f.car").read_bytes())
    with open_car_stream(body, tmp_path, root=result.root, max_bytes=10_000) as store:
        assert store.get(result.root) == b"streamed"


trees = st.dictionaries(
    st.lists(
        st.text(st.characters(codec="utf-8", categories=["L", "N"]), min_size=1, max_size=6),
        min_size=1,
        max_size=3,
    ).map(tuple),
    st.binary(max_size=3000),
    min_size=1,
    max_size=6,
)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(trees)
def test_property_round_trip(tmp_path: Path, tree: dict[tuple[str, ...], bytes]) -> None:
    case = tmp_path / os.urandom(6).hex()
    src = case / "src"
    src.mkdir(parents=True)
    written: dict[str, bytes] = {}
    for parts, data in tree.items():
        target = src.joinpath(*parts)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            if target.exists():
                continue
            target.write_bytes(data)
        except (FileExistsError, NotADirectoryError):
            continue
        written["/".join(parts)] = data
    try:
        result = write_car(src, case / "x.car")
    except Exception as exc:  # case-colliding names are refused by design
        assert "collide" in str(exc)
        return
    with open_car(case / "x.car") as store:
        assert store.root == result.root
        got = {e.path: b"".join(e.chunks()) for e in walk(store, result.root) if e.kind == "file"}
    assert got == read_tree(src) == {k: v for k, v in written.items() if k in got}
