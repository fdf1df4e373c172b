"""Publisher identity attacks: rotation, revocation, thresholds, broken chains, rollback.

The scenario of issue 5's "Done when": a reader who trusted identity v1 (key A) verifies
a bundle signed after two rotations and one revocation with a 2-of-3 threshold; a
bundle signed only by the revoked key is refused with exit 3. Identity versions:
v1 {A}; v2 {A,B,C} 2-of-3; v3 {B,C,D} 2-of-3 (A rotated out in good standing);
v4 revokes D and adds E: {B,C,E} 2-of-3. Related SECURITY-CASES: 15 (only trusted keys
count) and 28 (rollback refused, remembered version unchanged).
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from mirror import bundle, canonjson, envelope, feed, identity_state, publisher
from mirror import identity as ident
from mirror import reader as reader_mod
from mirror import verify as verify_mod
from mirror.clock import sha256_tag
from mirror.config import Home
from mirror.errors import VerificationError
from mirror.keys import PublicKey, TrustedKey, load_public, load_signing_key
from mirror.signer import Signer
from tests.conftest import PASSPHRASE, Mirror, snapshot

NAMES = {"A": "pub", "B": "other", "C": "carol", "D": "dave", "E": "erin"}


@dataclass
class World:
    publisher: Path
    bundles: dict[str, Path]  # label -> bundle folder
    chains: dict[int, bytes]  # version -> identity.json bytes of that prefix
    line_a: str


def _signer(home: Home, labels: str, version: int, chain: bytes) -> Signer:
    keys = tuple(load_signing_key(home, NAMES[c], PASSPHRASE) for c in labels)
    return Signer(keys, version, chain)


def _bundle(out: Path, page: Path, signer: Signer) -> Path:
    content = {"index.html": page.read_bytes()}
    bundle.write_bundle(
        out,
        content,
        article={"title": out.name},
        capture={"source": "test"},
        signer=signer,
    )
    return out


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, _keyed_home: Path) -> World:
    base = tmp_path_factory.mktemp("identity-world")
    home_dir = base / "publisher"
    shutil.copytree(_keyed_home, home_dir)
    m = Mirror(home_dir)
    for label in "CDE":
        assert m("keygen", "--name", NAMES[label]).exit_code == 0
    home = Home(home_dir)
    page = base / "page.html"
    page.write_text("<!doctype html><title>x</title><p>report</p>", encoding="utf-8")
    bundles: dict[str, Path] = {}
    chains: dict[int, bytes] = {}

    def snap(version: int) -> bytes:
        chain = publisher.require_chain(home)
        assert chain.current.version == version
        chains[version] = chain.to_bytes()
        return chains[version]

    assert m("identity", "init", "--name", "paper").exit_code == 0
    signer = publisher.load_signer(home, PASSPHRASE)
    assert signer is not None and signer.version == 1
    bundles["v1-by-A"] = _bundle(base / "v1-by-A", page, signer)
    snap(1)
    r = m("identity", "rotate", "--add", "other", "--add", "carol", "--threshold", "2")
    assert r.exit_code == 0, r.stderr
    snap(2)
    r = m("identity", "rotate", "--add", "dave", "--remove", "pub")
    assert r.exit_code == 0, r.stderr
    c3 = snap(3)
    s = _signer(home, "BD", 3, c3)
    bundles["v3-by-BD"] = _bundle(base / "v3-by-BD", page, s)
    s = _signer(home, "D", 3, c3)
    bundles["v3-by-D"] = _bundle(base / "v3-by-D", page, s)
    r = m("identity", "revoke", "dave", "--add", "erin")
    assert r.exit_code == 0, r.stderr
    c4 = snap(4)
    signer = publisher.load_signer(home, PASSPHRASE)
    assert signer is not None and signer.version == 4 and len(signer.keys) == 2
    bundles["v4-current"] = _bundle(base / "v4-current", page, signer)
    s = _signer(home, "D", 4, c4)
    bundles["v4-by-D"] = _bundle(base / "v4-by-D", page, s)
    s = _signer(home, "CC", 4, c4)
    bundles["v4-by-C-twice"] = _bundle(base / "v4-by-C-twice", page, s)
    line_a = load_public(home, "pub").to_text()
    return World(home_dir, bundles, chains, line_a)


@pytest.fixture
def reader(empty_mirror: Mirror, world: World) -> Mirror:
    """A reader who trusts only key A, the key of identity version 1."""
    assert empty_mirror("trust", "add", "paper", world.line_a).exit_code == 0
    return empty_mirror


def _verify(home: Path, folder: Path, anchor: str) -> verify_mod.Verdict:
    trusted = [TrustedKey("paper", PublicKey.from_text(anchor), "")]
    return reader_mod.verify(Home(home), folder, trusted)


def test_done_when_v4_two_of_three_verifies_for_v1_reader(reader: Mirror, world: World) -> None:
    r = reader("verify", world.bundles["v4-current"], "--trust", "paper", "--json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["publisher"] == "paper"


def test_done_when_revoked_key_alone_refused_exit_3(reader: Mirror, world: World) -> None:
    r = reader("verify", world.bundles["v4-by-D"], "--trust", "paper")
    assert r.exit_code == 3, r.stderr
    assert "revoked in identity 'paper' version 4" in r.stderr and "Traceback" not in r.stderr
    # Signed by D alone under v3 (before the revocation): below v3's threshold anyway,
    # and refused as revoked once the reader has seen v4.
    r = reader("verify", world.bundles["v3-by-D"], "--trust", "paper")
    assert r.exit_code == 3, r.stderr
    _verify(reader.home, world.bundles["v4-current"], world.line_a)
    with pytest.raises(VerificationError, match="revoked in identity 'paper' version 4"):
        _verify(reader.home, world.bundles["v3-by-D"], world.line_a)


def test_done_when_rotated_out_key_bundle_still_verifies(reader: Mirror, world: World) -> None:
    """A (v1 only, never revoked) signed a bundle under v1: valid, also once v4 is known."""
    _verify(reader.home, world.bundles["v4-current"], world.line_a)
    verdict = _verify(reader.home, world.bundles["v1-by-A"], world.line_a)
    assert verdict.key_id == PublicKey.from_text(world.line_a).key_id
    r = reader("verify", world.bundles["v1-by-A"], "--trust", "paper")
    assert r.exit_code == 0, r.stderr


def test_revocation_learned_later_applies_to_old_bundles(reader: Mirror, world: World) -> None:
    """v3-by-BD (identity.json ends at v3) verifies for a reader who knows only v3; once
    the reader has seen v4 (which revokes D), the same bundle is refused."""
    assert _verify(reader.home, world.bundles["v3-by-BD"], world.line_a).manifest
    _verify(reader.home, world.bundles["v4-current"], world.line_a)
    assert (
        identity_state.remembered_version(Home(reader.home), PublicKey.from_text(world.line_a)) == 4
    )
    with pytest.raises(VerificationError, match="revoked"):
        _verify(reader.home, world.bundles["v3-by-BD"], world.line_a)


def test_duplicate_signatures_by_one_key_count_once(reader: Mirror, world: World) -> None:
    r = reader("verify", world.bundles["v4-by-C-twice"], "--trust", "paper")
    assert r.exit_code == 3
    assert "1 valid signature" in r.stderr and "2 required" in r.stderr


def test_untrusted_reader_refused(empty_mirror: Mirror, world: World) -> None:
    """Case 15: a reader trusting another key gets exit 3, whatever the chain says."""
    other = load_public(Home(world.publisher), "erin").to_text()
    r = empty_mirror("verify", world.bundles["v4-current"], "--key", other)
    assert r.exit_code == 0  # E signed v4, which lists it: E anchors the identity too
    stranger = PublicKey(
        bytes.fromhex("3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c")
    ).to_text()
    r = empty_mirror("verify", world.bundles["v4-current"], "--key", stranger)
    assert r.exit_code == 3 and "not signed by a trusted key" in r.stderr


def _tamper_chain(folder: Path, dest: Path, edit: object) -> Path:
    """Copy a bundle and rewrite its identity.json envelopes with `edit` (manifest stays)."""
    shutil.copytree(folder, dest)
    doc = canonjson.loads((dest / "identity.json").read_bytes().rstrip(b"\n"), max_size=1 << 24)
    doc["versions"] = edit(doc["versions"])  # type: ignore[operator]
    (dest / "identity.json").write_bytes(canonjson.dumps(doc) + b"\n")
    return dest


@pytest.mark.parametrize(
    "case, edit, message",
    [
        ("missing-link", lambda v: [v[0], v[2], v[3]], "go up by one"),
        ("reordered", lambda v: [v[1], v[0], v[2], v[3]], "start at version 1"),
        ("truncated", lambda v: v[:2], "only versions up to 2"),
        ("empty", lambda v: [], "1 to 1000"),
    ],
)
def test_broken_chain_refused_and_memory_unchanged(
    reader: Mirror, world: World, tmp_path: Path, case: str, edit: object, message: str
) -> None:
    bad = _tamper_chain(world.bundles["v4-current"], tmp_path / case, edit)
    before = snapshot(reader.home)
    r = reader("verify", bad, "--trust", "paper")
    assert r.exit_code in (3, 5), r.stderr
    assert message in r.stderr
    with pytest.raises(Exception, match=message):
        _verify(reader.home, bad, world.line_a)
    assert snapshot(reader.home) == before


def test_forged_link_signed_by_attacker_refused(
    reader: Mirror, world: World, tmp_path: Path
) -> None:
    """A v4 replaced by one listing only the attacker's key (signed by the revoked D and
    the attacker): the v3 threshold among unrevoked keys is not met."""
    home = Home(world.publisher)
    chain = ident.verify_chain(
        ident.parse_chain(world.chains[4]), [PublicKey.from_text(world.line_a)]
    )
    dave = load_signing_key(home, "dave", PASSPHRASE)
    forged = ident.Identity(
        "paper", 4, "2030-01-01T00:00:00Z", 1, (dave.public,), (), chain.links[2].digest
    )
    env = envelope.sign(envelope.IDENTITY_TYPE, forged.to_bytes(), [dave])
    item = canonjson.loads(env.to_bytes().rstrip(b"\n"), max_size=1 << 20)
    bad = _tamper_chain(world.bundles["v4-by-D"], tmp_path / "forged", lambda v: [*v[:3], item])
    r = reader("verify", bad, "--trust", "paper")
    assert r.exit_code == 3
    assert "unrevoked keys of version 3" in r.stderr


def test_fork_against_remembered_chain_refused(
    reader: Mirror, world: World, tmp_path: Path
) -> None:
    """A bundle whose chain differs from the remembered one at some version -> 3, and
    the remembered chain does not move."""
    _verify(reader.home, world.bundles["v4-current"], world.line_a)
    home = Home(world.publisher)
    a = load_signing_key(home, "pub", PASSPHRASE)
    v1 = ident.parse_chain(world.chains[1])[0]
    fork = ident.Identity(
        "paper", 2, "2030-01-01T00:00:00Z", 1, (a.public,), (), sha256_tag(v1.payload)
    )
    env = envelope.sign(envelope.IDENTITY_TYPE, fork.to_bytes(), [a])
    item = canonjson.loads(env.to_bytes().rstrip(b"\n"), max_size=1 << 20)
    signer = Signer((a,), 2, ident.chain_bytes([v1, env]))
    _bundle(tmp_path / "fork", Path(world.bundles["v1-by-A"] / "index.html"), signer)
    assert item  # the fork is well-formed and signed by the trusted key itself
    before = snapshot(reader.home)
    with pytest.raises(VerificationError, match="two different version 2"):
        _verify(reader.home, tmp_path / "fork", world.line_a)
    assert snapshot(reader.home) == before


def test_rollback_to_lower_identity_version_refused(reader: Mirror, world: World) -> None:
    """Case 28 for identities: once v4 is remembered, a chain ending at v2 offered as the
    publisher's current identity (as a feed does) -> 3, remembered version unchanged."""
    anchor = PublicKey.from_text(world.line_a)
    trusted = [TrustedKey("paper", anchor, "")]
    home = Home(reader.home)
    _verify(reader.home, world.bundles["v4-current"], world.line_a)
    before = snapshot(reader.home)
    old = canonjson.loads(world.chains[2].rstrip(b"\n"), max_size=1 << 24)
    with pytest.raises(VerificationError, match="rollback") as info:
        feed.authority(old, trusted, home)
    assert info.value.exit_code == 3
    assert identity_state.remembered_version(home, anchor) == 4
    assert snapshot(reader.home) == before


def test_resign_rescues_bundle_after_revocation(
    world: World, tmp_path: Path, _keyed_home: Path
) -> None:
    publisher = tmp_path / "publisher"
    shutil.copytree(world.publisher, publisher)
    folder = tmp_path / "v3-by-BD"
    shutil.copytree(world.bundles["v3-by-BD"], folder)
    p = Mirror(publisher)
    anchor = world.line_a
    with pytest.raises(VerificationError, match="revoked"):
        _verify(publisher, folder, anchor)
    old_index = (folder / "index.html").read_bytes()
    r = p("identity", "resign", folder)
    assert r.exit_code == 0, r.stderr
    new_root = r.stdout.strip()
    verdict = _verify(publisher, folder, anchor)
    assert verdict.root_cid == new_root
    assert verdict.manifest.publisher.identity_version == 4
    assert (folder / "index.html").read_bytes() == old_index
    assert ident.parse_chain((folder / "identity.json").read_bytes())[-1].payload == (
        ident.parse_chain(world.chains[4])[-1].payload
    )


def test_bundle_without_identity_verifies_as_before(mirror: Mirror, page_dir: Path) -> None:
    """No identity: one key signs, no identity.json, `verify` checks one trusted key."""
    out = page_dir.parent / "plain"
    assert mirror("bundle", page_dir, "-o", out).exit_code == 0
    assert not (out / "identity.json").exists()
    r = mirror("verify", out, "--trust", "pub")
    assert r.exit_code == 0, r.stderr
    assert mirror("verify", out, "--trust", "other").exit_code == 3
