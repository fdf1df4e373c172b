"""SECURITY-CASES.md cases 20-25: paths, and hostile CAR files and DAGs.

Hostile CARs are assembled byte by byte here, so every attack is a small, visible change.
"""

from __future__ import annotations

import hashlib
import os
import tracemalloc
from pathlib import Path

import pytest

from mirror.errors import LimitExceeded, MirrorError, UsageError, VerificationError
from mirror.ipld import dagpb, varint
from mirror.ipld.car import CARV2_PRAGMA, CarLimits, header_bytes, open_car, write_car
from mirror.ipld.cid import CID
from mirror.ipld.unixfs import (
    CHUNK_SIZE,
    DIR_DATA,
    T_FILE,
    UnixFSData,
    WalkLimits,
    add_path,
    check_name,
    encode_data,
    walk,
)

Block = tuple[CID, bytes]


def section(cid_bytes: bytes, block: bytes) -> bytes:
    return varint.encode(len(cid_bytes) + len(block)) + cid_bytes + block


def car(root: CID, blocks: list[Block]) -> bytes:
    return header_bytes([root]) + b"".join(section(c.to_bytes(), b) for c, b in blocks)


def put(tmp_path: Path, data: bytes, name: str = "x.car") -> Path:
    target = tmp_path / name
    target.write_bytes(data)
    return target


def raw(data: bytes) -> Block:
    return CID.raw(data), data


def directory(entries: list[tuple[str, CID, int]]) -> Block:
    links = tuple(dagpb.PBLink(c, n, t) for n, c, t in entries)
    block = dagpb.encode(dagpb.PBNode(links, DIR_DATA))
    return CID.dag_pb(block), block


def file_node(children: list[tuple[CID, int]]) -> Block:
    sizes = tuple(s for _, s in children)
    data = encode_data(UnixFSData(T_FILE, filesize=sum(sizes), blocksizes=sizes))
    block = dagpb.encode(dagpb.PBNode(tuple(dagpb.PBLink(c, "", s) for c, s in children), data))
    return CID.dag_pb(block), block


def walk_all(path: Path, limits: WalkLimits | None = None) -> list[tuple[str, bytes]]:
    with open_car(path) as store:
        return [(e.path, b"".join(e.chunks())) for e in walk(store, store.root, limits)]


# -- case 20: names -----------------------------------------------------------------


@pytest.mark.parametrize("name", ["..", ".", "", "a/b", "a\\b", "a\0b", "/etc", "C:evil", "c:"])
def test_case_20_bad_names_refused(name: str) -> None:
    with pytest.raises(UsageError):
        check_name(name, "test")


@pytest.mark.parametrize("name", ["..", "a/b", "x\\y", "C:x", ""])
def test_case_20_bad_names_in_a_fetched_directory(tmp_path: Path, name: str) -> None:
    leaf = raw(b"payload")
    root = directory([(name, leaf[0], 7)])
    with pytest.raises(UsageError) as err:
        walk_all(put(tmp_path, car(root[0], [leaf, root])))
    assert err.value.exit_code == 2


def test_case_20_case_collision_in_source_refused(tmp_path: Path) -> None:
    (tmp_path / "Index.html").write_bytes(b"1")
    (tmp_path / "index.html").write_bytes(b"2")
    with pytest.raises(UsageError, match="collide"):
        add_path(tmp_path)
    assert not list(tmp_path.glob("*.car"))


def test_case_20_unicode_normalisation_collision_refused(tmp_path: Path) -> None:
    (tmp_path / "caf\u00e9").write_bytes(b"nfc")
    (tmp_path / "cafe\u0301").write_bytes(b"nfd")
    with pytest.raises(UsageError, match="collide"):
        write_car(tmp_path, tmp_path.parent / "out.car")
    assert not (tmp_path.parent / "out.car").exists()


def test_case_20_case_collision_in_a_fetched_directory(tmp_path: Path) -> None:
    a, b = raw(b"a"), raw(b"b")
    root = directory([("README", a[0], 1), ("readme", b[0], 1)])
    with pytest.raises(UsageError, match="collide"):
        walk_all(put(tmp_path, car(root[0], [a, b, root])))


# -- case 21: symlinks, FIFOs, changing files -----------------------------------------


@pytest.mark.parametrize("target", ["inside.txt", "/etc/passwd"])
def test_case_21_symlink_refused(tmp_path: Path, target: str) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "inside.txt").write_bytes(b"x")
    (src / "link").symlink_to(target)
    with pytest.raises(UsageError, match="symlink"):
        write_car(src, tmp_path / "out.car")
    assert not (tmp_path / "out.car").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["src"]  # no temp file left


def test_case_21_symlinked_root_refused(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "alias").symlink_to(tmp_path / "real")
    with pytest.raises(UsageError):
        add_path(tmp_path / "alias")


def test_case_21_fifo_refused(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe")
    with pytest.raises(UsageError, match="FIFO"):
        add_path(tmp_path)


@pytest.mark.parametrize("change", ["grow", "shrink"])
def test_case_21_file_changing_while_read(tmp_path: Path, change: str) -> None:
    victim = tmp_path / "big.bin"
    victim.write_bytes(os.urandom(3 * CHUNK_SIZE))

    def sink(cid: CID, block: bytes) -> None:  # runs between reads of the file
        if change == "grow":
            with open(victim, "ab") as fh:
                fh.write(b"more")
        else:
            os.truncate(victim, CHUNK_SIZE)

    with pytest.raises(UsageError, match="changed while being read"):
        add_path(victim, sink)


# -- case 22: bytes that do not match their CID ---------------------------------------


def test_case_22_tampered_block(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.txt").write_bytes(b"the original text")
    good = write_car(src, tmp_path / "good.car")
    data = bytearray((tmp_path / "good.car").read_bytes())
    at = data.find(b"original")
    data[at] ^= 0x01
    bad = put(tmp_path, bytes(data), "bad.car")
    with pytest.raises(VerificationError) as err:
        open_car(bad)
    assert err.value.exit_code == 3
    assert good.root


def test_case_22_block_under_a_foreign_cid(tmp_path: Path) -> None:
    honest = CID.raw(b"honest")
    with pytest.raises(VerificationError):
        open_car(put(tmp_path, car(honest, [(honest, b"forged")])))


# -- case 23: malformed CARs ----------------------------------------------------------


def test_case_23_unknown_codec(tmp_path: Path) -> None:
    data = b"{}"
    cid_bytes = b"\x01" + varint.encode(0x0129) + b"\x12\x20" + hashlib.sha256(data).digest()
    blob = header_bytes([CID.raw(data)]) + section(cid_bytes, data)
    with pytest.raises(UsageError, match="codec"):
        open_car(put(tmp_path, blob))


def test_case_23_unknown_hash(tmp_path: Path) -> None:
    data = b"x"
    cid_bytes = b"\x01\x55\x13\x40" + hashlib.sha512(data).digest()  # sha2-512
    blob = header_bytes([CID.raw(data)]) + section(cid_bytes, data)
    with pytest.raises(UsageError, match="multihash"):
        open_car(put(tmp_path, blob))


def test_case_23_identity_over_128_bytes(tmp_path: Path) -> None:
    inline = b"a" * 129
    cid_bytes = b"\x01\x55\x00" + varint.encode(len(inline)) + inline
    blob = header_bytes([CID.raw(b"x")]) + section(cid_bytes, inline)
    with pytest.raises(UsageError, match="identity"):
        open_car(put(tmp_path, blob))
    with pytest.raises(UsageError):
        CID.from_bytes(cid_bytes)


@pytest.mark.parametrize(
    "tail",
    [
        b"\xff" * 9 + b"\x01",  # a ten-byte varint
        b"\x80\x00",  # non-minimal varint
        b"\x80",  # varint cut short
    ],
)
def test_case_23_absurd_varints(tmp_path: Path, tail: bytes) -> None:
    with pytest.raises(UsageError):
        open_car(put(tmp_path, header_bytes([CID.raw(b"x")]) + tail))


def test_case_23_absurd_header_length(tmp_path: Path) -> None:
    with pytest.raises(UsageError):
        open_car(put(tmp_path, varint.encode(1 << 40) + b"\xa2"))


def test_case_23_huge_section_claim_no_large_allocation(tmp_path: Path) -> None:
    blob = header_bytes([CID.raw(b"x")]) + varint.encode(1 << 62) + b"\x01\x55"
    path = put(tmp_path, blob)
    tracemalloc.start()
    try:
        with pytest.raises(UsageError):
            open_car(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 * 1024 * 1024


def test_case_23_block_over_2_mib(tmp_path: Path) -> None:
    big = b"\0" * (2 * 1024 * 1024 + 1)
    with pytest.raises(UsageError, match="over"):
        open_car(put(tmp_path, car(CID.raw(big), [raw(big)])))
    ok = b"\0" * (2 * 1024 * 1024)
    with open_car(put(tmp_path, car(CID.raw(ok), [raw(ok)]), "ok.car")) as store:
        assert len(store.get(CID.raw(ok))) == len(ok)


def test_case_23_truncated_section(tmp_path: Path) -> None:
    blob = car(CID.raw(b"hello world"), [raw(b"hello world")])
    for cut in (1, 5, 12):
        with pytest.raises(UsageError, match="truncated"):
            open_car(put(tmp_path, blob[:-cut], f"cut{cut}.car"))


def carv2(v1: bytes, data_size: int | None = None, index_offset: int = 0) -> bytes:
    data_offset = len(CARV2_PRAGMA) + 40
    size = len(v1) if data_size is None else data_size
    header = bytes(16) + b"".join(
        n.to_bytes(8, "little") for n in (data_offset, size, index_offset)
    )
    return CARV2_PRAGMA + header + v1 + b"\x01\x02garbage-index"


def test_case_23_lying_carv2_index(tmp_path: Path) -> None:
    leaf = raw(b"hello world")
    v1 = car(leaf[0], [leaf])
    inside = len(CARV2_PRAGMA) + 40 + 3  # index "starts" inside the data
    with pytest.raises(UsageError, match="index"):
        open_car(put(tmp_path, carv2(v1, index_offset=inside)))
    past_end = 1 << 40
    with pytest.raises(UsageError, match="index"):
        open_car(put(tmp_path, carv2(v1, index_offset=past_end), "b.car"))
    # a well-placed but bogus index is simply never read: blocks are verified by scan
    honest = carv2(v1, index_offset=len(CARV2_PRAGMA) + 40 + len(v1))
    with open_car(put(tmp_path, honest, "c.car")) as store:
        assert store.get(leaf[0]) == b"hello world"


def test_case_23_carv2_data_past_end(tmp_path: Path) -> None:
    leaf = raw(b"hello world")
    with pytest.raises(UsageError):
        open_car(put(tmp_path, carv2(car(leaf[0], [leaf]), data_size=1 << 50)))


# -- case 24: missing, dangling, unreachable, duplicate -------------------------------


def test_case_24_missing_root(tmp_path: Path) -> None:
    other = raw(b"other")
    with pytest.raises(VerificationError, match="root"):
        open_car(put(tmp_path, car(CID.raw(b"absent"), [other])))


def test_case_24_dangling_link(tmp_path: Path) -> None:
    root = directory([("a.txt", CID.raw(b"never shipped"), 13)])
    with pytest.raises(VerificationError, match="dangling"):
        open_car(put(tmp_path, car(root[0], [root])))


def test_case_24_unreachable_blocks_are_never_served(tmp_path: Path) -> None:
    leaf, stray = raw(b"listed"), raw(b"smuggled")
    root = directory([("a.txt", leaf[0], 6)])
    with open_car(put(tmp_path, car(root[0], [stray, leaf, root]))) as store:
        assert stray[0] not in store
        with pytest.raises(VerificationError):
            store.get(stray[0])
        assert [e.path for e in walk(store, store.root)] == ["", "a.txt"]


def test_case_24_duplicate_directory_entries(tmp_path: Path) -> None:
    a, b = raw(b"first"), raw(b"second")
    root = directory([("same", a[0], 5), ("same", b[0], 6)])
    with pytest.raises(MirrorError, match="duplicate") as err:
        walk_all(put(tmp_path, car(root[0], [a, b, root])))
    assert err.value.exit_code in (2, 3)


def test_case_24_file_lying_about_its_size(tmp_path: Path) -> None:
    leaf = raw(b"12345")
    sizes = (50,)
    data = encode_data(UnixFSData(T_FILE, filesize=50, blocksizes=sizes))
    block = dagpb.encode(dagpb.PBNode((dagpb.PBLink(leaf[0], "", 5),), data))
    node = (CID.dag_pb(block), block)
    with pytest.raises(VerificationError):
        walk_all(put(tmp_path, car(node[0], [leaf, node])))


# -- case 25: counts, depth, amplification ------------------------------------------


def test_case_25_block_count_limit(tmp_path: Path) -> None:
    assert CarLimits().max_blocks == 1_000_000
    blocks = [raw(i.to_bytes(4, "big")) for i in range(101)]
    path = put(tmp_path, car(blocks[0][0], blocks))
    with pytest.raises(LimitExceeded, match="100 blocks"):
        open_car(path, limits=CarLimits(max_blocks=100))
    with open_car(path, limits=CarLimits(max_blocks=101)):
        pass


def test_case_25_deep_chain(tmp_path: Path) -> None:
    cur = raw(b"bottom")
    blocks = [cur]
    for _ in range(100_000):  # a 10^5-deep chain of one-entry directories
        cur = directory([("d", cur[0], 1)])
        blocks.append(cur)
    with pytest.raises(LimitExceeded, match="deeper"):
        open_car(put(tmp_path, car(cur[0], blocks)))


def test_case_25_amplification_via_shared_subtrees(tmp_path: Path) -> None:
    # 5 levels of 64 links to one shared child: 7 blocks, 64**5 paths
    cur = raw(b"x")
    blocks = [cur]
    for _ in range(5):
        cur = directory([(f"n{i:02d}", cur[0], 1) for i in range(64)])
        blocks.append(cur)
    path = put(tmp_path, car(cur[0], blocks))
    with pytest.raises(LimitExceeded):
        walk_all(path)


def test_case_25_file_amplification_is_capped(tmp_path: Path) -> None:
    # 1024 links to one 1 MiB leaf, three levels: declares 1 TiB from ~3 MiB of blocks
    leaf = raw(b"\0" * CHUNK_SIZE)
    blocks = [leaf]
    cur, size = leaf[0], CHUNK_SIZE
    for _ in range(3):
        node = file_node([(cur, size)] * 1024)
        blocks.append(node)
        cur, size = node[0], size * 1024
    with pytest.raises(LimitExceeded):
        walk_all(put(tmp_path, car(cur, blocks)))
