"""Feed freshness and consistency attacks (SECURITY-CASES 28, issue item 2) and the
publisher identity in feeds, driven by the publisher simulator over the js-ipfs node.

Every refusal asserts exit 3 AND that the follower's remembered identity chain and
feed version (state/) did not move. Rollback to an older feed, freeze,
same-version-other-content and mix-and-match against a real publisher home live in
test_network_cases.py (case 28); these add what a simulator can forge: a version
seen, a higher one, then an older one; forged and under-threshold signers; identity
rollback; revoked keys; and following across a key rotation.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from mirror.ipld.cid import CID
from tests.conftest import Mirror, snapshot
from tests.ipfs_support import LocalNode
from tests.simulator import PAST, Published, Simulator

pytestmark = pytest.mark.ipfs


@dataclass
class Setup:
    sim: Simulator
    follower: Mirror
    node: LocalNode
    tmp: Path

    def offer(self, published: Published) -> str:
        """Put the feed and every bundle the simulator holds on the node."""
        client = self.node.client
        for root in self.sim.bundles:
            if not client.is_pinned(root):
                self.sim.import_to(client, root)
        self.sim.import_to(client, published.feed_cid)
        return published.feed_cid.encode()

    def follow(self, source: str | Path) -> tuple[int, str]:
        run = self.follower(
            "follow", str(source), "--trust", "sim", env={"MIRROR_IPFS_API": self.node.api}
        )
        return run.exit_code, run.stderr + run.stdout

    def accepted(self, published: Published) -> None:
        code, out = self.follow(self.offer(published))
        assert code == 0, out
        assert self.remembered_version() == published.version

    def refused(self, source: str | Path, *words: str) -> None:
        before = snapshot(self.follower.home / "state")
        code, out = self.follow(source)
        assert code == 3, out
        assert any(w in out for w in words), out
        assert snapshot(self.follower.home / "state") == before  # nothing moved

    def remembered_version(self) -> int:
        path = self.follower.home / "state" / "feeds" / f"{self.sim.key(1).public.key_id}.json"
        return int(json.loads(path.read_text())["version"])

    def remembered_identity(self) -> int:
        (path,) = (self.follower.home / "state" / "identity").glob("*.json")
        return len(json.loads(path.read_text())["chain"]["versions"])


@pytest.fixture
def setup(tmp_path: Path, ipfs_node: LocalNode) -> Iterator[Setup]:
    """A simulated publisher with one bundle and a follower trusting its key 1 that
    has followed feed version 1."""
    sim = Simulator(tmp_path / "sim")
    sim.add_bundle("first")
    follower = Mirror(tmp_path / "follower")
    follower.home.mkdir()
    assert follower("trust", "add", "sim", sim.key(1).public.to_text()).exit_code == 0
    s = Setup(sim, follower, ipfs_node, tmp_path)
    s.accepted(sim.publish())
    yield s


def test_case_28_seen_then_higher_then_older_version_refused(setup: Setup) -> None:
    """Fast-forward then rollback: v1 seen, v10 (legitimately signed) seen; v5 (also
    legitimately signed, but older than v10) and v1 again are refused, as is v5's head."""
    sim = setup.sim
    sim.feed.version = 10
    setup.accepted(sim.publish())
    sim.feed.version = 5
    older = sim.publish()
    setup.refused(setup.offer(older), "rollback")
    setup.refused(setup.offer(sim.history[0]), "rollback")
    head = setup.tmp / "older.head.json"
    head.write_bytes(older.head_bytes)
    setup.refused(head, "rollback")
    assert setup.remembered_version() == 10


def test_case_28_freeze_expired_feed_and_head_refused(setup: Setup) -> None:
    sim = setup.sim
    sim.feed.expires = PAST
    frozen = sim.publish()
    setup.refused(setup.offer(frozen), "expired")
    head = setup.tmp / "frozen.head.json"
    head.write_bytes(frozen.head_bytes)
    setup.refused(head, "expired")
    assert setup.remembered_version() == 1


def test_case_28_same_version_other_content_refused(setup: Setup) -> None:
    sim = setup.sim
    sim.add_bundle("second")
    sim.feed.version = 1  # the version already seen, now listing two bundles
    setup.refused(setup.offer(sim.publish()), "differs from the document already seen")


def test_case_28_mix_and_match_entry_with_another_bundles_manifest_refused(
    setup: Setup,
) -> None:
    """A new entry pairs bundle B's root with bundle A's manifest hash."""
    sim = setup.sim
    first = next(iter(sim.bundles.values()))
    second = sim.bundles[sim.add_bundle("second")]
    swapped = second.entry.__class__(
        **{**second.entry.to_dict(), "manifest_sha256": first.entry.manifest_sha256}
    )
    sim.feed.entries = [swapped, first.entry]
    setup.refused(setup.offer(sim.publish()), "mix-and-match")
    assert not setup.node.client.is_pinned(second.root)  # the unmatched bundle is unpinned


def test_forged_feed_signer_refused(setup: Setup) -> None:
    sim = setup.sim
    sim.signers = [sim.key(9)]  # an attacker's key, with the publisher's real chain
    setup.refused(setup.offer(sim.publish()), "not signed by a trusted key")


def test_threshold_not_met_refused(setup: Setup) -> None:
    sim = setup.sim
    sim.rotate(add=[sim.key(2), sim.key(3)], threshold=2)
    sim.signers = [sim.key(2)]  # one of the two signatures required
    setup.refused(setup.offer(sim.publish()), "1 valid signature(s)", "2 required")
    sim.signers = [sim.key(2), sim.key(2)]  # the same key twice still counts once
    setup.refused(setup.offer(sim.publish()), "2 required")
    sim.signers = [sim.key(2), sim.key(3)]
    setup.accepted(sim.publish())
    assert setup.remembered_identity() == 2


def test_follow_across_a_rotation_and_refuse_the_revoked_key(setup: Setup) -> None:
    """The follower trusts key 1 only. v2 replaces key 1 by key 2: the feed signed by
    key 2 alone is followed (state kept under key 1's id). v3 adds key 3, v4 revokes
    key 2 (stolen): a feed signed by key 2 is refused with the current chain, and
    refused as an identity rollback with the chain of v3."""
    sim = setup.sim
    sim.rotate(add=[sim.key(2)], remove=[sim.key(1)])
    new_root = sim.add_bundle("after rotation")  # signed by key 2 under identity v2
    setup.accepted(sim.publish())
    assert setup.remembered_identity() == 2
    state = json.loads(
        (setup.follower.home / "follow" / f"{sim.key(1).public.key_id}.json").read_text()
    )
    assert new_root.encode() in state["verified"] and len(state["verified"]) == 2

    sim.rotate(add=[sim.key(3)])
    sim.rotate(revoke=[sim.key(2)])
    setup.accepted(sim.publish())
    assert setup.remembered_identity() == 4

    sim.signers = [sim.key(2)]  # the thief signs with the full, current chain
    setup.refused(setup.offer(sim.publish()), "not signed by a trusted key")
    sim.signers = [sim.key(2)]
    sim.chain_length = 3  # ... or with the chain from before the revocation
    setup.refused(setup.offer(sim.publish()), "rollback")
    assert setup.remembered_identity() == 4 and setup.remembered_version() == 3


def test_bundle_signed_by_revoked_key_in_an_honest_feed_refused(setup: Setup) -> None:
    """The feed is fine; one bundle was signed (by the thief) with the revoked key."""
    sim = setup.sim
    sim.rotate(add=[sim.key(2)])
    sim.rotate(revoke=[sim.key(1)])
    stolen = sim.add_bundle("forged", keys=[sim.key(1)])
    before = snapshot(setup.follower.home / "state")
    code, out = setup.follow(setup.offer(sim.publish()))
    assert code == 3 and "revoked" in out, out
    assert snapshot(setup.follower.home / "state") == before
    assert not setup.node.client.is_pinned(CID.decode(stolen.encode()))
