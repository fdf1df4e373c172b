"""CIDs. Vectors: DESIGN.md / IPIP-0499 ("hello world" raw leaf) and Kubo's
test/cli/cid_profiles_test.go (CIDv0 of "hello world" as a dag-pb wrapped file)."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mirror.errors import UsageError, VerificationError
from mirror.ipld import dagpb
from mirror.ipld.cid import CID, DAG_CBOR, DAG_PB, IDENTITY, RAW
from mirror.ipld.unixfs import T_FILE, UnixFSData, encode_data

HELLO_RAW = "bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e"
HELLO_V0 = "Qmf412jQZiuVUtdgnB36FXFX7xg5V6KEbSJ4dpQuhkLyfD"
EMPTY_RAW = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"


def test_hello_world_raw_leaf() -> None:
    cid = CID.raw(b"hello world")
    assert cid.encode() == HELLO_RAW
    assert cid.digest == hashlib.sha256(b"hello world").digest()
    assert CID.decode(HELLO_RAW) == cid
    cid.verify(b"hello world")


def test_empty_raw_leaf() -> None:
    assert CID.raw(b"").encode() == EMPTY_RAW


def test_cidv0_hello_world_dag_pb_wrapped() -> None:
    # unixfs-v0-2015 wraps small files: dag-pb {Data: UnixFS{File, "hello world", 11}}
    data = encode_data(UnixFSData(T_FILE, data=b"hello world", filesize=11))
    block = dagpb.encode(dagpb.PBNode((), data))
    cid = CID.decode(HELLO_V0)
    assert cid.version == 0 and cid.codec == DAG_PB
    cid.verify(block)
    assert cid.encode() == HELLO_V0
    assert CID.from_bytes(cid.to_bytes()) == (cid, 34)


def test_base58btc_multibase() -> None:
    cid = CID.raw(b"hello world")
    from mirror.ipld.cid import _b58encode

    assert CID.decode("z" + _b58encode(cid.to_bytes())) == cid


@given(st.binary(max_size=64), st.sampled_from([RAW, DAG_PB, DAG_CBOR]))
def test_round_trip(data: bytes, codec: int) -> None:
    cid = CID.from_digest(codec, hashlib.sha256(data).digest())
    assert CID.decode(cid.encode()) == cid
    raw = cid.to_bytes()
    assert CID.from_bytes(b"xx" + raw + b"tail", 2) == (cid, 2 + len(raw))


def test_identity_cid() -> None:
    cid = CID(1, RAW, bytes((IDENTITY, 5)) + b"hello")
    cid.verify(b"hello")
    assert cid.digest == b"hello"
    with pytest.raises(VerificationError):
        cid.verify(b"hellO")


@pytest.mark.parametrize(
    "text",
    [
        "",
        "Qm",
        "bafkrei",
        "mAXASIA",  # base64 multibase: not accepted
        HELLO_RAW.upper(),
        HELLO_RAW + "a",
        HELLO_RAW[:-1] + "1",
        "b" + "a" * 300,
    ],
)
def test_rejects_malformed(text: str) -> None:
    with pytest.raises(UsageError):
        CID.decode(text)


def test_mismatch_is_verification_error() -> None:
    with pytest.raises(VerificationError):
        CID.raw(b"hello world").verify(b"hello world!")
