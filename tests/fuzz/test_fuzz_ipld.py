"""Fuzz the IPLD readers: CAR (v1/v2) reader, dag-pb and UnixFS decoders, the walker."""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from mirror.errors import VerificationError
from mirror.ipld import car, dagpb, unixfs
from mirror.ipld.cid import CID
from tests.fuzz.harness import FUZZ, hostile, mutations, survive
from tests.fuzz.seeds import bundle_seed

SPOOL = Path(tempfile.gettempdir())
CAR_SEED = bundle_seed()[0]


def _read_car(data: bytes) -> int:
    """Open the CAR, walk everything reachable from its root, read every byte."""
    with car.open_car_stream(io.BytesIO(data), SPOOL, max_bytes=1 << 20) as blocks:
        total = 0
        for entry in unixfs.walk(blocks, blocks.roots[0]):
            if entry.kind == "file":
                total += sum(len(chunk) for chunk in entry.chunks())
        return total


def test_seed_car_reads() -> None:
    assert _read_car(CAR_SEED) > 300


@FUZZ
@given(hostile(CAR_SEED))
def test_fuzz_car_reader(data: bytes) -> None:
    survive(_read_car, data)


@FUZZ
@given(mutations(CAR_SEED, max_ops=1))
def test_fuzz_car_reader_single_mutation(data: bytes) -> None:
    """One change to a valid CAR: refused cleanly, or (when it landed in bytes nobody
    reads, e.g. an unreachable block) still read; never anything else."""
    survive(_read_car, data)


def _blocks_of_seed() -> list[bytes]:
    with car.open_car_stream(io.BytesIO(CAR_SEED), SPOOL, max_bytes=1 << 20) as blocks:
        return [blocks.get(cid) for cid in blocks.cids() if cid.codec == 0x70]


PB_SEEDS = _blocks_of_seed()


def _decode_pb(data: bytes) -> None:
    node = dagpb.decode(data)
    if node.data is not None:
        unixfs.decode_data(node.data)


@FUZZ
@given(st.one_of(st.binary(max_size=1024), st.sampled_from(PB_SEEDS).flatmap(mutations)))
def test_fuzz_dagpb_and_unixfs_decoders(data: bytes) -> None:
    survive(_decode_pb, data)


@FUZZ
@given(st.binary(max_size=512))
def test_fuzz_unixfs_data_decoder(data: bytes) -> None:
    survive(unixfs.decode_data, data)


class _Blocks:
    """A block store holding hostile blocks under whatever CIDs they claim."""

    def __init__(self, blocks: dict[CID, bytes]) -> None:
        self.blocks = blocks

    def get(self, cid: CID) -> bytes:
        if cid not in self.blocks:
            raise VerificationError(f"block {cid} is missing")
        return self.blocks[cid]


def _walk(root_block: bytes, others: list[bytes]) -> None:
    root = CID.dag_pb(root_block)
    store = {root: root_block, **{CID.dag_pb(b): b for b in others}}
    for entry in unixfs.walk(_Blocks(store), root):
        if entry.kind == "file":
            for _chunk in entry.chunks():
                pass


@FUZZ
@given(
    st.sampled_from(PB_SEEDS).flatmap(mutations),
    st.lists(st.sampled_from(PB_SEEDS).flatmap(mutations), max_size=3),
)
def test_fuzz_unixfs_walk(root_block: bytes, others: list[bytes]) -> None:
    survive(_walk, root_block, others)
