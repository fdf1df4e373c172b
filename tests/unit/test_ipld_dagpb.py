"""dag-pb codec (https://ipld.io/specs/codecs/dag-pb/spec/): Kubo's byte layout and a
strict decoder. The directory vector is the `subdir` one from DESIGN.md."""

from __future__ import annotations

import contextlib
import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mirror.errors import UsageError
from mirror.ipld import dagpb
from mirror.ipld.cid import CID, DAG_PB, RAW
from mirror.ipld.unixfs import DIR_DATA

SUBDIR = "bafybeiggghzz6dlue3m6nb2dttnbrygxh3lrjl5764f2m4gq7dgzdt55o4"


def test_subdir_vector_byte_layout() -> None:
    a = b"hello application/vnd.ipld.car\n"
    h = b"hello world\n"
    node = dagpb.PBNode(
        (
            dagpb.PBLink(CID.raw(a), "ascii.txt", len(a)),
            dagpb.PBLink(CID.raw(h), "hello.txt", len(h)),
        ),
        DIR_DATA,
    )
    block = dagpb.encode(node)
    assert block.startswith(b"\x12")  # Links come before Data
    assert block.endswith(b"\x0a\x02\x08\x01")
    assert CID.dag_pb(block).encode() == SUBDIR
    assert dagpb.decode(block) == node


def test_empty_name_is_written() -> None:
    link = dagpb.PBLink(CID.raw(b"x"), "", 1)
    assert b"\x12\x00\x18\x01" in dagpb.encode_link(link)


cids = st.builds(
    lambda d, c: CID.from_digest(c, hashlib.sha256(d).digest()),
    st.binary(max_size=8),
    st.sampled_from([RAW, DAG_PB]),
)
links = st.builds(
    dagpb.PBLink,
    cids,
    st.one_of(st.none(), st.text(max_size=20)),
    st.one_of(st.none(), st.integers(min_value=0, max_value=2**63 - 1)),
)
nodes = st.builds(
    dagpb.PBNode,
    st.lists(links, max_size=5).map(tuple),
    st.one_of(st.none(), st.binary(max_size=40)),
)


@given(nodes)
def test_round_trip(node: dagpb.PBNode) -> None:
    assert dagpb.decode(dagpb.encode(node)) == node


@given(st.binary(max_size=200))
def test_garbage_never_crashes(raw: bytes) -> None:
    with contextlib.suppress(UsageError):
        dagpb.decode(raw)


@pytest.mark.parametrize(
    "hexed",
    [
        "0a0108" + "1200",  # link after Data
        "0a01080a0108",  # Data twice
        "1a00",  # unknown field 3
        "12020a00",  # link with an empty (invalid) CID
        "1202" + "1200",  # link without Hash
        "0a05aa",  # Data runs past the end
        "12ff",  # link length runs past the end
    ],
)
def test_strict_rejects(hexed: str) -> None:
    with pytest.raises(UsageError):
        dagpb.decode(bytes.fromhex(hexed))


def test_link_fields_out_of_order() -> None:
    cid = CID.raw(b"x").to_bytes()
    body = b"\x12\x01a" + b"\x0a" + bytes((len(cid),)) + cid  # Name before Hash
    with pytest.raises(UsageError):
        dagpb.decode(b"\x12" + bytes((len(body),)) + body)
    dup = b"\x0a" + bytes((len(cid),)) + cid + b"\x18\x01\x18\x01"  # Tsize twice
    with pytest.raises(UsageError):
        dagpb.decode(b"\x12" + bytes((len(dup),)) + dup)
