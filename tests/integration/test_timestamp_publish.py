"""Stamped bundles and feeds through a real IPFS node and a real OpenSSL TSA.

`mirror push` verifies the publisher's own stamped bundle before recording it, and
`mirror feed publish --tsa` stamps the feed, whose token a follower checks.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mirror import feed
from mirror.config import Home
from mirror.envelope import Envelope
from mirror.keys import PublicKey, TrustedKey
from mirror.timestamp import verify_envelope_stamps
from tests.conftest import Mirror
from tests.helpers.tsa import Authority, TsaServer, needs_openssl
from tests.ipfs_support import LocalNode

pytestmark = [pytest.mark.ipfs, needs_openssl]


def test_stamped_bundle_pushed_and_stamped_feed_published(
    mirror: Mirror, ipfs_node: LocalNode, tsa: TsaServer, tsa_authority: Authority, tmp_path: Path
) -> None:
    env = {"MIRROR_IPFS_API": ipfs_node.api, "MIRROR_TSA": tsa.url}
    assert mirror("trust", "tsa", "add", "local", tsa_authority.root_pem).exit_code == 0
    page = tmp_path / "page"
    page.mkdir()
    (page / "index.html").write_text(
        "<!doctype html><html><head><title>Pushed</title></head><body><article>"
        "<h1>Pushed</h1><p>Stamped and pushed.</p></article></body></html>",
        encoding="utf-8",
    )
    out = tmp_path / "bundle"
    assert mirror("bundle", page, "-o", out, env=env).exit_code == 0
    run = mirror("push", out, env=env)
    assert run.exit_code == 0, run.stderr
    run = mirror("feed", "publish", "--no-announce", env=env)
    assert run.exit_code == 0, run.stderr
    data = feed.feed_file(Home(mirror.home)).read_bytes()
    signed = Envelope.from_bytes(data)
    assert all(s.tst for s in signed.signatures)
    assert verify_envelope_stamps(signed, [tsa_authority.root()]) is not None
    line = mirror("key", "show", "pub").stdout.strip()
    trusted = [TrustedKey("pub", PublicKey.from_text(line), "")]
    entries = feed.verify_feed(data, trusted, home=Home(mirror.home)).feed.entries
    # the feed lists each entry's stamped time, the one `mirror verify` reports
    verdict = json.loads(mirror("verify", out, "--trust", "pub", "--json").stdout)
    assert [e.stamped_at for e in entries] == [verdict["timestamp"]["time"]]
    assert f"existed by {verdict['timestamp']['time']}" in mirror("feed", "show").stdout
    # the next feed is built on the stamped one, which the publisher's own TSA trust checks
    run = mirror("feed", "publish", "--no-announce", env=env)
    assert run.exit_code == 0, run.stderr
