"""UnixFS with the unixfs-v1-2025 profile.

Vectors: DESIGN.md (hello world, empty file, `subdir`), and IPIP-0499 as tested by Kubo
in test/cli/cid_profiles_test.go (profile unixfs-v1-2025). Kubo's inputs come from
test/cli/testutils/random_deterministic.go (ChaCha20 keystream, key = sha256(seed), zero
nonce) and, for directories, createDeterministicFiles in test/cli/add_test.go: names
read from the "hamt-unixfs-v1-2025" keystream, each byte mapped to
AlphabetEasy[b % 39]; every file holds b"x".
"""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms

from mirror.errors import LimitExceeded, UsageError
from mirror.ipld import dagpb
from mirror.ipld.cid import CID
from mirror.ipld.unixfs import (
    CHUNK_SIZE,
    T_DIRECTORY,
    T_FILE,
    UnixFSData,
    add_path,
    add_stream,
    decode_data,
    encode_data,
    walk,
)

MIB = 1 << 20
ALPHABET_EASY = "abcdefghijklmnopqrstuvwxyz01234567890-_"  # Kubo testutils, 39 runes


class KeystreamReader(io.RawIOBase):
    """`size` bytes of Kubo's deterministic keystream for `seed`, generated on demand."""

    def __init__(self, seed: str, size: int) -> None:
        key = hashlib.sha256(seed.encode()).digest()
        self._enc = Cipher(algorithms.ChaCha20(key, bytes(16)), None).encryptor()
        self._left = size

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        n = self._left if n < 0 else min(n, self._left)
        self._left -= n
        return self._enc.update(bytes(n))


def kubo_names(seed: str, count: int, name_len: int, last_len: int) -> list[str]:
    stream = KeystreamReader(seed, MIB)
    names = []
    for i in range(count):
        raw = stream.read(last_len if i == count - 1 else name_len)
        names.append("".join(ALPHABET_EASY[b % len(ALPHABET_EASY)] for b in raw))
    return names


def cid_of_stream(seed: str, size: int) -> str:
    return add_stream(KeystreamReader(seed, size))[0].cid.encode()


class MemStore:
    def __init__(self) -> None:
        self.blocks: dict[CID, bytes] = {}

    def put(self, cid: CID, block: bytes) -> None:
        assert cid not in self.blocks, "sink got a block twice"
        cid.verify(block)
        self.blocks[cid] = block

    def get(self, cid: CID) -> bytes:
        return self.blocks[cid]


# -- vectors -------------------------------------------------------------------------


def test_hello_world_and_empty(tmp_path: Path) -> None:
    (tmp_path / "hello").write_bytes(b"hello world")
    (tmp_path / "empty").write_bytes(b"")
    hello = add_path(tmp_path / "hello")
    assert hello.root.encode() == "bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e"
    assert hello.files["hello"].sha256 == hashlib.sha256(b"hello world").hexdigest()
    assert hello.size == 11
    empty = add_path(tmp_path / "empty")
    assert empty.root.encode() == "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"


def test_subdir_vector(tmp_path: Path) -> None:
    sub = tmp_path / "subdir"
    sub.mkdir()
    (sub / "ascii.txt").write_bytes(b"hello application/vnd.ipld.car\n")
    (sub / "hello.txt").write_bytes(b"hello world\n")
    result = add_path(tmp_path)
    assert result.root.encode() == "bafybeietjm63oynimmv5yyqay33nui4y4wx6u3peezwetxgiwvfmelutzu"
    assert set(result.files) == {"subdir/ascii.txt", "subdir/hello.txt"}
    sub_cid = add_path(sub).root.encode()
    assert sub_cid == "bafybeiggghzz6dlue3m6nb2dttnbrygxh3lrjl5764f2m4gq7dgzdt55o4"


def test_ipip0499_file_at_chunk_size() -> None:
    got = cid_of_stream("chunk-v1-seed", CHUNK_SIZE)
    assert got == "bafkreiacndfy443ter6qr2tmbbdhadvxxheowwf75s6zehscklu6ezxmta"


def test_ipip0499_file_over_chunk_size() -> None:
    got = cid_of_stream("chunk-v1-seed", CHUNK_SIZE + 1)
    assert got == "bafybeigmix7t42i6jacydtquhet7srwvgpizfg7gjbq7627d35mjomtu64"


@pytest.mark.slow
def test_ipip0499_file_at_max_links_1gib() -> None:
    got = cid_of_stream("v1-2025-seed", 1024 * MIB)
    assert got == "bafybeihmf37wcuvtx4hpu7he5zl5qaf2ineo2lqlfrapokkm5zzw7zyhvm"


@pytest.mark.slow
def test_ipip0499_file_over_max_links_1gib() -> None:
    got = cid_of_stream("v1-2025-seed", 1024 * MIB + 1)
    assert got == "bafybeibdsi225ugbkmpbdohnxioyab6jsqrmkts3twhpvfnzp77xtzpyhe"


def make_hamt_dir(root: Path, last_len: int) -> Path:
    root.mkdir()
    for name in kubo_names("hamt-unixfs-v1-2025", 4766, 11, last_len):
        (root / name).write_bytes(b"x")
    return root


def test_ipip0499_directory_at_hamt_threshold(tmp_path: Path) -> None:
    store = MemStore()
    result = add_path(make_hamt_dir(tmp_path / "d", 21), store.put)
    assert result.root.encode() == "bafybeic3h7rwruealwxkacabdy45jivq2crwz6bufb5ljwupn36gicplx4"
    assert len(store.blocks[result.root]) == 262144
    assert len(result.files) == 4766


def test_ipip0499_directory_over_threshold_is_refused(tmp_path: Path) -> None:
    # Kubo shards this one (bafybeiegvuterwurhdtkikfhbxcldohmxp566vpjdofhzmnhv6o4freidu)
    with pytest.raises(LimitExceeded, match="HAMT sharding is not supported"):
        add_path(make_hamt_dir(tmp_path / "d", 22))


# -- structure -------------------------------------------------------------------------


def test_two_chunk_layout_and_sink_order(tmp_path: Path) -> None:
    data = os.urandom(CHUNK_SIZE + 5)
    (tmp_path / "f").write_bytes(data)
    order: list[CID] = []
    store = MemStore()

    def sink(cid: CID, block: bytes) -> None:
        order.append(cid)
        store.put(cid, block)

    result = add_path(tmp_path / "f", sink)
    assert order[-1] == result.root  # children before parents
    node = dagpb.decode(store.blocks[result.root])
    assert [lk.tsize for lk in node.links] == [CHUNK_SIZE, 5]
    assert node.data is not None
    fs = decode_data(node.data)
    assert (fs.type, fs.filesize, fs.blocksizes) == (T_FILE, CHUNK_SIZE + 5, (CHUNK_SIZE, 5))
    assert result.size == len(store.blocks[result.root]) + CHUNK_SIZE + 5
    assert result.files["f"].sha256 == hashlib.sha256(data).hexdigest()


def test_identical_blocks_reach_sink_once(tmp_path: Path) -> None:
    for name in ("a", "b", "c"):
        (tmp_path / name).write_bytes(b"same")
    store = MemStore()  # asserts no block arrives twice
    result = add_path(tmp_path, store.put)
    assert len(store.blocks) == 2
    assert len({e.cid for e in result.files.values()}) == 1


def test_names_sorted_by_utf8_bytes(tmp_path: Path) -> None:
    for name in ("b", "B2", "é", "z", "a b"):
        (tmp_path / name).write_bytes(name.encode())
    store = MemStore()
    result = add_path(tmp_path, store.put)
    names = [lk.name for lk in dagpb.decode(store.blocks[result.root]).links]
    assert names == sorted(names, key=lambda n: (n or "").encode())


def test_hidden_names_are_skipped_and_reported(tmp_path: Path) -> None:
    (tmp_path / "shown").write_bytes(b"1")
    (tmp_path / ".secret").write_bytes(b"2")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / ".git").mkdir()
    result = add_path(tmp_path)
    assert sorted(result.skipped_hidden) == [".secret", "sub/.git"]
    assert set(result.files) == {"shown"}


def test_empty_directory_is_kept(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    store = MemStore()
    result = add_path(tmp_path, store.put)
    node = dagpb.decode(store.blocks[result.root])
    child = store.blocks[node.links[0].hash]
    assert child == b"\x0a\x02\x08\x01"  # dag-pb {Data: UnixFS{Directory}}
    assert node.links[0].tsize == 4


def test_unixfs_data_round_trip_and_strictness() -> None:
    d = UnixFSData(T_FILE, b"ab", 12, (5, 5), None, None)
    assert decode_data(encode_data(d)) == d
    assert decode_data(b"\x08\x01") == UnixFSData(T_DIRECTORY)
    bad_inputs = (b"", b"\x18\x01\x08\x01", b"\x08\x01\x08\x02", b"\x22\x01\x05")
    for bad in (*bad_inputs, b"\x08\x01\x12\x05"):
        with pytest.raises(UsageError):
            decode_data(bad)


def test_walk_reads_back_everything(tmp_path: Path) -> None:
    big = os.urandom(2 * CHUNK_SIZE + 3)
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "big").write_bytes(big)
    (tmp_path / "small").write_bytes(b"small")
    store = MemStore()
    result = add_path(tmp_path, store.put)
    seen = {e.path: (e.kind, e.size, b"".join(e.chunks())) for e in walk(store, result.root)}
    assert seen == {
        "": ("dir", 0, b""),
        "d": ("dir", 0, b""),
        "d/big": ("file", len(big), big),
        "small": ("file", 5, b"small"),
    }
    assert result.files["d/big"].cid == CID.decode(result.files["d/big"].cid.encode())
