"""Claims of docs/threat-model.md proved end to end through the CLI (issue 5, item 8).

Each test names the attacker of the threat model it speaks for: a compromised editor
key under a 2-of-3 identity, a censor freezing a feed at the default expiry, and a
stolen laptop whose key the publisher revokes. (Feeds under a threshold identity:
tests/security/test_feed_attacks.py::test_threshold_not_met_refused.)
"""

from __future__ import annotations

import json
import shutil
from datetime import timedelta
from pathlib import Path

import pytest

from mirror import feed, keys, publisher
from mirror.capture.local import LocalOptions, bundle_local
from mirror.config import Home
from mirror.ipld import car
from mirror.keys import TrustedKey
from mirror.signer import Signer
from tests.conftest import PASSPHRASE, Mirror, snapshot
from tests.ipfs_support import LocalNode


def _page(tmp: Path, title: str) -> Path:
    page = tmp / f"page-{title}"
    page.mkdir()
    (page / "index.html").write_text(
        f"<!doctype html><html><head><meta charset=utf-8><title>{title}</title></head>"
        f"<body><article><h1>{title}</h1><p>A report readers must be able to trust.</p>"
        "</article></body></html>",
        encoding="utf-8",
    )
    return page


def _bundle(m: Mirror, tmp: Path, title: str, *args: str) -> Path:
    out = tmp / f"bundle-{title}"
    run = m("bundle", _page(tmp, title), "-o", out, *args)
    assert run.exit_code == 0, run.stderr
    return out


def _reader(tmp: Path, publisher: Mirror, name: str = "reader") -> Mirror:
    """A reader who trusts the publisher's first key (identity version 1)."""
    reader = Mirror(tmp / name)
    reader.home.mkdir()
    line = publisher("key", "show", "pub").stdout.strip()
    assert reader("trust", "add", "paper", line).exit_code == 0
    return reader


def _keep_only(m: Mirror, tmp: Path, name: str, keep: str) -> Mirror:
    """A copy of `m`'s data directory holding the private key `keep` alone."""
    other = Mirror(tmp / name)
    shutil.copytree(m.home, other.home)
    for key in (other.home / "keys").glob("*.key"):
        if key.stem != keep:
            key.unlink()
    return other


def _refused(reader: Mirror, target: Path, *words: str) -> None:
    before = snapshot(reader.home)
    run = reader("verify", target, "--trust", "paper")
    assert run.exit_code == 3, run.stdout + run.stderr
    assert run.stderr.count("\n") == 1 and "Traceback" not in run.stderr
    assert any(w in run.stderr for w in words), run.stderr
    assert snapshot(reader.home) == before  # the remembered identity did not move


def test_compromised_editor_key_alone_cannot_sign_under_two_of_three(
    mirror: Mirror, tmp_path: Path
) -> None:
    """Threat model 4: one editor key of a 2-of-3 identity signs a manifest alone; a
    reader who knows the identity refuses it (exit 3), through the CLI."""
    assert mirror("keygen", "--name", "third").exit_code == 0
    assert mirror("identity", "init", "--name", "paper").exit_code == 0
    run = mirror("identity", "rotate", "--add", "other", "--add", "third", "--threshold", "2")
    assert run.exit_code == 0 and "version 2 is now current" in run.stderr, run.stderr
    honest = _bundle(mirror, tmp_path, "Honest", "--key-name", "third")
    assert len(json.loads((honest / "manifest.json").read_bytes())["signatures"]) == 2

    reader = _reader(tmp_path, mirror)
    assert reader("verify", honest, "--trust", "paper").exit_code == 0  # learns 2-of-3

    editor = _keep_only(mirror, tmp_path, "editor", "third")
    run = editor("bundle", _page(tmp_path, "Refused"), "-o", tmp_path / "x", "--key-name", "third")
    assert run.exit_code == 2 and "needs 2 signatures" in run.stderr, run.stderr
    assert not (tmp_path / "x").exists()

    # The attacker's own tools: the identity's chain and version 2, one signature.
    home = Home(editor.home)
    key = keys.load_signing_key(home, "third", PASSPHRASE)
    chain = publisher.require_chain(home)
    forged = tmp_path / "forged"
    bundle_local(
        _page(tmp_path, "Forged"),
        forged,
        LocalOptions(),
        signer=Signer((key,), 2, chain.to_bytes()),
    )
    _refused(reader, forged, "1 valid signature(s)")
    forged_car = tmp_path / "forged.car"
    car.write_car(forged, forged_car)
    _refused(reader, forged_car, "1 valid signature(s)")

    # ... or no identity at all: a plain one-key bundle by an untrusted key.
    shutil.rmtree(editor.home / "identity")
    plain = _bundle(editor, tmp_path, "Plain", "--key-name", "third")
    _refused(reader, plain, "required", "not signed by a trusted key")
    _refused(_reader(tmp_path, mirror, "new-reader"), plain, "not signed by a trusted key")


def test_stolen_laptop_key_revoked_end_to_end(mirror: Mirror, tmp_path: Path) -> None:
    """Threat model 3: the laptop holding key 'pub' is stolen (passphrase guessed). The
    publisher revokes 'pub' from another key; a reader who has seen the revocation
    (in any later bundle) refuses every bundle the thief signs afterwards (exit 3)."""
    assert mirror("identity", "init", "--name", "paper").exit_code == 0
    assert mirror("identity", "rotate", "--add", "other").exit_code == 0  # 1 of 2
    before_theft = _bundle(mirror, tmp_path, "Before")
    thief = _keep_only(mirror, tmp_path, "thief", "pub")  # the stolen copy
    reader = _reader(tmp_path, mirror)
    assert reader("verify", before_theft, "--trust", "paper").exit_code == 0

    run = mirror("identity", "revoke", "pub")
    assert run.exit_code == 0 and "version 3 is now current" in run.stderr, run.stderr
    after = _bundle(mirror, tmp_path, "After")  # signed by 'other' under version 3
    late_reader = _reader(tmp_path, mirror, "late-reader")  # never saw the revocation

    stolen = _bundle(thief, tmp_path, "Stolen", "--key-name", "pub")  # thief's chain: v2
    assert late_reader("verify", stolen, "--trust", "paper").exit_code == 0  # documented limit
    assert reader("verify", after, "--trust", "paper").exit_code == 0  # learns version 3
    _refused(reader, stolen, "revoked")
    shutil.rmtree(thief.home / "identity")  # a bundle without any identity: still refused
    _refused(reader, _bundle(thief, tmp_path, "Plain", "--key-name", "pub"), "revoked")
    stolen_car = tmp_path / "stolen.car"
    car.write_car(stolen, stolen_car)
    _refused(reader, stolen_car, "revoked")
    # The late reader learns the revocation from any later bundle, then refuses too.
    assert late_reader("verify", after, "--trust", "paper").exit_code == 0
    _refused(late_reader, stolen, "revoked")


@pytest.mark.ipfs
def test_freeze_detected_at_the_default_seven_day_expiry(
    mirror: Mirror, ipfs_node: LocalNode, tmp_path: Path
) -> None:
    """Threat model 1: `feed publish` without --ttl makes a feed valid for 7 days; a
    censor replaying it 8 days later is refused (exit 3), 6 days later it is accepted.

    mirror reads the clock itself (no test override), so "8 days later" is a feed
    made with the default ttl by the same code 8 days in the past."""
    env = {"MIRROR_IPFS_API": ipfs_node.api}
    assert mirror("push", _bundle(mirror, tmp_path, "Story"), env=env).exit_code == 0
    run = mirror("feed", "publish", "--no-announce", "--json", env=env)
    assert run.exit_code == 0, run.stderr
    home = Home(mirror.home)
    key = keys.load_signing_key(home, "pub", PASSPHRASE)
    published, _ = feed.load_own_feed(home, [TrustedKey("pub", key.public, "")]) or (None, b"")
    assert published is not None
    created = feed.parse_time(published.feed.created_at, "created")
    assert feed.parse_time(published.feed.expires, "expires") - created == timedelta(days=7)
    assert timedelta(days=7) == feed.DEFAULT_TTL

    for age, code in ((8, 3), (6, 0)):
        old = feed.build_feed(
            key,
            published.feed.entries,
            previous=None,
            previous_cid=None,
            now=created - timedelta(days=age),
        )
        data = feed.sign_feed(old, key)
        path = tmp_path / f"feed-{age}d"
        path.write_bytes(data)
        cid = car.write_car(path, tmp_path / f"feed-{age}d.car").root
        assert ipfs_node.client.dag_import(tmp_path / f"feed-{age}d.car") == [cid]
        follower = _reader(tmp_path, mirror, f"follower-{age}d")
        before = snapshot(follower.home)
        run = follower("follow", cid.encode(), "--trust", "paper", env=env)
        assert run.exit_code == code, run.stdout + run.stderr
        if code:
            assert "expired" in run.stderr and "frozen" in run.stderr, run.stderr
            assert snapshot(follower.home) == before
