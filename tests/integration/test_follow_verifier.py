"""The publisher's verifier page through the feed: `mirror verifier --push` puts it on
the node, the next feed names it {cid, sha256, size}, and `mirror follow` pins it only
after checking its bytes; a feed naming another hash gets it unpinned and exit 3."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from mirror import canonjson, feed
from mirror.config import Home
from mirror.ipld.cid import CID
from tests.conftest import Mirror
from tests.ipfs_support import LocalNode

pytestmark = pytest.mark.ipfs


def test_follow_pins_the_checked_verifier(
    mirror: Mirror, ipfs_node: LocalNode, tmp_path: Path
) -> None:
    env = {"MIRROR_IPFS_API": ipfs_node.api}
    page = tmp_path / "page"
    page.mkdir()
    (page / "index.html").write_text("<html><head><title>T</title></head><body>1</body></html>")
    assert mirror("bundle", page, "-o", tmp_path / "b").exit_code == 0
    assert mirror("push", tmp_path / "b", env=env).exit_code == 0
    out = tmp_path / "verify.html"
    run = mirror("verifier", "-o", out, "--trust", "pub", "--push", "--no-minisig", env=env)
    assert run.exit_code == 0, run.stderr
    ref = feed.load_verifier_ref(Home(mirror.home))
    assert ref is not None and ref.size == out.stat().st_size
    assert mirror("feed", "publish", env=env).exit_code == 0
    doc = json.loads(feed.feed_file(Home(mirror.home)).read_bytes())
    payload = canonjson.loads(base64.b64decode(doc["payload"]), max_size=1 << 20)
    assert payload["verifier"] == ref.to_dict()

    follower = Mirror(tmp_path / "follower")
    follower.home.mkdir()
    line = mirror("key", "show", "pub").stdout.strip()
    assert follower("trust", "add", "pub", line).exit_code == 0
    head = mirror.home / "feed" / "head.json"
    run = follower("follow", head, "--trust", "pub", "--json", env=env)
    assert run.exit_code == 0, run.stderr
    assert json.loads(run.stdout)["verifier"] == "pinned"
    assert ipfs_node.client.is_pinned(CID.decode(ref.cid))

    # the publisher's next feed names another hash for the same page: refused, unpinned
    feed.save_verifier_ref(
        Home(mirror.home), feed.VerifierRef(ref.cid, "sha256:" + "0" * 64, ref.size)
    )
    assert mirror("feed", "publish", env=env).exit_code == 0
    run = follower("follow", head, "--trust", "pub", "--json", env=env)
    assert run.exit_code == 3
    report = json.loads(run.stdout)
    assert "differs from the hash the feed lists" in report["verifier"]
    assert not ipfs_node.client.is_pinned(CID.decode(ref.cid))
