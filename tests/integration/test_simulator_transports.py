"""The publisher simulator over the real transports: a CAR file on disk, a trustless
HTTP gateway on 127.0.0.1 (bundles by CID, heads by URL) and the js-ipfs node.

Each transport carries an honest copy (accepted) and a few attacks: a damaged block,
a bundle signed by a revoked key, a forged head, endless data (exit 5) and slow
delivery (exit 4), the last two within a bounded time.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from mirror.config import Home
from mirror.errors import LimitExceeded
from mirror.ipld.cid import CID
from mirror.retrieve import fetch_verified
from tests.conftest import Mirror, snapshot
from tests.helpers.trust import trust_of
from tests.ipfs_support import LocalNode
from tests.simulator import PAST, Simulator, blocks_of

CLOSED_API = "/ip4/127.0.0.1/tcp/9"  # no node: these commands must not need one


@pytest.fixture
def sim(tmp_path: Path) -> Simulator:
    """Two rotations and one revocation, 2-of-3 at the end: v1 {1} -> v2 {1,2,3} 2-of-3
    -> v3 revokes 1 (stolen), adds 4: {2,3,4} 2-of-3."""
    s = Simulator(tmp_path / "sim")
    s.rotate(add=[s.key(2), s.key(3)], threshold=2)
    s.rotate(revoke=[s.key(1)], add=[s.key(4)])
    return s


@pytest.fixture
def reader(tmp_path: Path, sim: Simulator) -> Mirror:
    """A reader who trusted key 1 of identity version 1, and nothing since."""
    m = Mirror(tmp_path / "reader")
    m.home.mkdir()
    assert m("trust", "add", "sim", sim.key(1).public.to_text()).exit_code == 0
    return m


# -- a CAR file on disk ------------------------------------------------------------------


def test_car_file_current_bundle_verifies_stolen_and_damaged_refused(
    sim: Simulator, reader: Mirror, tmp_path: Path
) -> None:
    good = sim.add_bundle("current")  # signed by keys 2 and 3 under v3
    stolen = sim.add_bundle("stolen", keys=[sim.key(1)])  # the revoked key alone
    run = reader("verify", sim.write_car(good, tmp_path / "good.car"), "--trust", "sim")
    assert run.exit_code == 0, run.stderr
    run = reader("verify", sim.write_car(stolen, tmp_path / "stolen.car"), "--trust", "sim")
    assert run.exit_code == 3 and "revoked" in run.stderr, run.stderr
    for block in blocks_of(sim.car_bytes(good)):
        sim.corrupt[good] = block
        run = reader("verify", sim.write_car(good, tmp_path / "bad.car"), "--trust", "sim")
        assert run.exit_code == 3, (block, run.stderr)


# -- an HTTP gateway ----------------------------------------------------------------------


def test_http_gateway_bundle_honest_damaged_slow_endless(
    sim: Simulator, reader: Mirror, tmp_path: Path
) -> None:
    root = sim.add_bundle("over http", size=256 << 10)
    with sim.serve_http() as server:
        args = ["--trust", "sim", "--gateway", server.base, "--no-node"]
        run = reader("get", root.encode(), *args, "-o", tmp_path / "ok", "--json")
        assert run.exit_code == 0, run.stderr
        assert json.loads(run.stdout)["source"] == f"gateway {server.base}"

        sim.corrupt[root] = blocks_of(sim.car_bytes(root))[0]
        for path in (reader.home / "cache").rglob("*.car"):
            path.unlink()  # the honest copy from above would be served from the cache
        before = snapshot(reader.home / "cache")
        run = reader("get", root.encode(), *args, "-o", tmp_path / "bad")
        assert run.exit_code == 3, run.stderr
        assert snapshot(reader.home / "cache") == before and not (tmp_path / "bad").exists()
        sim.corrupt.clear()

        sim.delay = 0.05  # one byte every 50 ms: 256 KiB would take hours
        started = time.monotonic()
        run = reader("get", root.encode(), *args, "-o", tmp_path / "slow", "--timeout", "2")
        assert run.exit_code == 4, run.stderr
        assert time.monotonic() - started < 10
        sim.delay = 0.0

        sim.endless = True  # the CAR, then zeros without end
        started = time.monotonic()
        with pytest.raises(LimitExceeded):
            fetch_verified(
                Home(tmp_path / "endless-home"),
                root,
                trust_of(sim.trusted()),
                gateways=[server.base],
                max_bytes=8 << 20,
                deadline=30,
            )
        assert time.monotonic() - started < 15


def test_http_head_url_forged_expired_endless_slow(
    sim: Simulator, reader: Mirror, tmp_path: Path
) -> None:
    """`mirror follow URL` judges the head before it needs a node (none is running)."""
    sim.add_bundle("one")
    env = {"MIRROR_IPFS_API": CLOSED_API}
    with sim.serve_http() as server:
        url = server.url("/head.json")  # always the latest head published
        for label, knob, word in (
            ("forged", [sim.key(9)], "0 valid signature(s)"),
            ("revoked key", [sim.key(1)], "0 valid signature(s)"),  # the thief
            ("expired", None, "expired"),
        ):
            sim.signers = knob
            sim.feed.expires = PAST if knob is None else None
            sim.publish()
            run = reader("follow", url, "--trust", "sim", env=env)
            assert run.exit_code == 3, (label, run.stderr)
            assert word in run.stderr, (label, run.stderr)
        assert not (reader.home / "state").exists()
        sim.signers = None

        sim.endless = True
        started = time.monotonic()
        run = reader("follow", url, "--trust", "sim", env=env)
        assert run.exit_code == 5 and "larger than" in run.stderr, run.stderr
        sim.endless = False
        sim.delay = 0.05
        run = reader("follow", url, "--trust", "sim", "--head-timeout", "1s", env=env)
        assert run.exit_code == 4 and "within 1 s" in run.stderr, run.stderr
        assert time.monotonic() - started < 10


# -- the js-ipfs node ---------------------------------------------------------------------


@pytest.mark.ipfs
def test_node_reader_after_two_rotations_and_a_revocation(
    sim: Simulator, reader: Mirror, ipfs_node: LocalNode, tmp_path: Path
) -> None:
    """The issue's end state through a node: a reader who trusted v1 follows the feed
    (signed 2-of-3 by keys 2 and 3, chain v1..v3) and gets the current bundle; a feed
    entry signed only by the revoked key is refused and unpinned; a bundle the node
    cannot find is 'unavailable' (exit 4) within the pin timeout."""
    env = {"MIRROR_IPFS_API": ipfs_node.api}
    good = sim.add_bundle("current")
    sim.import_to(ipfs_node.client, good)
    published = sim.publish()
    sim.import_to(ipfs_node.client, published.feed_cid)
    run = reader("follow", published.feed_cid.encode(), "--trust", "sim", env=env)
    assert run.exit_code == 0, run.stderr
    run = reader("get", good.encode(), "--trust", "sim", "-o", tmp_path / "got", env=env)
    assert run.exit_code == 0, run.stderr

    stolen = sim.add_bundle("stolen", keys=[sim.key(1)])
    sim.import_to(ipfs_node.client, stolen)
    published = sim.publish()
    sim.import_to(ipfs_node.client, published.feed_cid)
    run = reader("follow", published.feed_cid.encode(), "--trust", "sim", "--json", env=env)
    assert run.exit_code == 3, run.stderr
    assert json.loads(run.stdout)["failed"][0]["root_cid"] == stolen.encode()
    assert not ipfs_node.client.is_pinned(stolen)

    missing = CID.raw(b"never published anywhere " + tmp_path.name.encode())
    entry = sim.bundles[good].entry.__class__(
        **{**sim.bundles[good].entry.to_dict(), "root_cid": missing.encode()}
    )
    sim.feed.entries = [entry, sim.bundles[good].entry]
    published = sim.publish()
    sim.import_to(ipfs_node.client, published.feed_cid)
    started = time.monotonic()
    run = reader(
        "follow", published.feed_cid.encode(), "--trust", "sim", "--pin-timeout", "2s", env=env
    )
    assert run.exit_code == 4, run.stderr
    assert time.monotonic() - started < 20
