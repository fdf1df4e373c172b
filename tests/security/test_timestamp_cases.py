"""SECURITY-CASES 39 and issue 12's "Done when", through the real CLI and a real TSA.

Timestamps come from OpenSSL's `openssl ts` on 127.0.0.1 (tests/helpers/tsa.py). The
scenario of threat model section 4: identity v1 {A}; then v2 {A, B, C} 2-of-3 that
requires timestamps; A alone then signs a new bundle naming v1 with a fresh stamp:
refused (exit 3, signed-after-rotation) for a reader who knows v2, while A's bundle
stamped before the rotation still verifies and says when it existed.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from mirror import bundle, feed, reader, viewer
from mirror.config import Home
from mirror.envelope import Envelope
from mirror.errors import VerificationError
from mirror.keys import SigningKey, TrustedKey, load_signing_key, resolve_trust
from mirror.signer import Signer
from mirror.timestamp import Stamper, verify_envelope_stamps
from tests.conftest import PASSPHRASE, Mirror, snapshot
from tests.helpers.tsa import Authority, TsaServer, needs_openssl, serve_tsa
from tests.helpers.webserver import respond, serve

pytestmark = needs_openssl


def _page(root: Path, title: str) -> Path:
    page = root / f"page-{title}"
    page.mkdir(parents=True, exist_ok=True)
    (page / "index.html").write_text(
        f"<!doctype html><html><head><meta charset=utf-8><title>{title}</title></head>"
        f"<body><article><h1>{title}</h1><p>Reported and signed.</p></article></body></html>",
        encoding="utf-8",
    )
    return page


def _refusal(stdout: str) -> dict[str, object]:
    doc = json.loads(stdout)
    assert doc["ok"] is False
    return doc  # type: ignore[no-any-return]


@dataclass
class World:
    publisher: Mirror
    reader: Mirror
    old: Path  # A's bundle under v1, stamped before the rotation
    current: Path  # A and B under v2
    chain_v1: bytes


@pytest.fixture(scope="module")
def world(
    tmp_path_factory: pytest.TempPathFactory,
    _keyed_home: Path,
    tsa: TsaServer,
    tsa_authority: Authority,
) -> World:
    tmp = tmp_path_factory.mktemp("stamped-world")
    shutil.copytree(_keyed_home, tmp / "publisher")
    pub = Mirror(tmp / "publisher")
    env = {"MIRROR_TSA": tsa.url}
    assert pub("trust", "tsa", "add", "test-tsa", tsa_authority.root_pem).exit_code == 0
    assert pub("keygen", "--name", "carol").exit_code == 0
    run = pub("identity", "init", "--name", "paper", env=env)
    assert run.exit_code == 0, run.stderr
    old = tmp / "old"
    run = pub("bundle", _page(tmp, "Before"), "-o", old, env=env)
    assert run.exit_code == 0, run.stderr
    time.sleep(1.1)  # the TSA's clock counts seconds: the rotation is stamped later
    carol = pub("key", "show", "carol").stdout.strip()
    run = pub(
        "identity", "rotate", "--add", "other", "--add", carol, "--threshold", "2",
        "--require-timestamps", "--tsa-root", "test-tsa", env=env,
    )  # fmt: skip
    assert run.exit_code == 0, run.stderr
    assert "complete" in run.stderr or "version 2" in run.stderr, run.stderr
    time.sleep(1.1)
    current = tmp / "current"
    run = pub("bundle", _page(tmp, "After"), "-o", current, env=env)
    assert run.exit_code == 0, run.stderr

    reader = Mirror(tmp / "reader")
    line_a = pub("key", "show", "pub").stdout.strip()
    assert reader("trust", "add", "paper", line_a).exit_code == 0
    # the reader learns v2 from a bundle signed under it (TSA root from the identity)
    run = reader("verify", current, "--trust", "paper", "--json")
    assert run.exit_code == 0, run.stdout + run.stderr
    assert json.loads(run.stdout)["identity_version"] == 2
    return World(pub, reader, old, current, (old / "identity.json").read_bytes())


def _attacker_bundle(world: World, out: Path, stamper: Stamper) -> Path:
    """A alone, with its own tools: a new bundle naming identity v1."""
    key_a = load_signing_key(Home(world.publisher.home), "pub", PASSPHRASE)
    signer = Signer((key_a,), 1, world.chain_v1, stamper)
    bundle.write_bundle(
        out,
        {"index.html": b"<!doctype html><title>Forged</title><p>A says so.</p>"},
        article={"title": "Forged"},
        capture={"source": "attacker"},
        signer=signer,
    )
    return out


def test_bundle_stamped_before_the_rotation_verifies_and_says_when(world: World):
    run = world.reader("verify", world.old, "--trust", "paper")
    assert run.exit_code == 0, run.stdout + run.stderr
    line = next(x for x in run.stdout.splitlines() if x.startswith("timestamp:"))
    assert line.startswith("timestamp: existed by 20") and line.endswith("(TSA test-tsa)")
    doc = json.loads(world.reader("verify", world.old, "--trust", "paper", "--json").stdout)
    assert doc["timestamp"]["tsa"] == "test-tsa" and doc["timestamp"]["time"].endswith("Z")
    assert doc["identity_version"] == 1


def test_read_verdict_bar_says_when(world: World):
    trusted = resolve_trust(Home(world.reader.home), "paper", None)
    verdict = reader.verify(Home(world.reader.home), world.old, trusted)
    assert verdict.timestamp is not None
    page = viewer.verified_page(verdict).decode()
    assert f"existed by {verdict.timestamp.to_dict()['time']} (TSA test-tsa)" in page


def test_old_key_alone_with_a_fresh_stamp_naming_v1_is_refused(
    world: World, tsa: TsaServer, tmp_path: Path
):
    forged = _attacker_bundle(world, tmp_path / "forged", Stamper((tsa.url,)))
    before = snapshot(world.reader.home)
    run = world.reader("verify", forged, "--trust", "paper", "--json")
    assert run.exit_code == 3, run.stdout
    doc = _refusal(run.stdout)
    assert doc["reason"] == "signed-after-rotation"
    assert "superseded" in str(doc["error"])
    assert snapshot(world.reader.home) == before  # a refusal writes nothing


def test_old_key_alone_without_a_stamp_is_refused(world: World, tmp_path: Path):
    forged = _attacker_bundle(world, tmp_path / "unstamped", Stamper())
    run = world.reader("verify", forged, "--trust", "paper", "--json")
    assert run.exit_code == 3 and _refusal(run.stdout)["reason"] == "signed-after-rotation"


def test_stamp_from_a_tsa_nobody_trusts_is_untrusted_tsa(
    world: World, stranger_tsa: TsaServer, tmp_path: Path
):
    forged = _attacker_bundle(world, tmp_path / "stranger", Stamper((stranger_tsa.url,)))
    run = world.reader("verify", forged, "--trust", "paper", "--json")
    assert run.exit_code == 3 and _refusal(run.stdout)["reason"] == "untrusted-tsa"


def test_reader_who_never_saw_v2_still_accepts_it(world: World, tsa: TsaServer, tmp_path: Path):
    """The documented limit: the rule binds readers who know the version requiring it."""
    forged = _attacker_bundle(world, tmp_path / "forged-early", Stamper((tsa.url,)))
    fresh = Mirror(tmp_path / "fresh-reader")
    assert (
        fresh("trust", "add", "paper", world.publisher("key", "show", "pub").stdout).exit_code == 0
    )
    run = fresh("verify", forged, "--trust", "paper", "--json")
    # the bundle's own TSA root is not listed by v1: untrusted unless the reader adds it
    assert run.exit_code == 3 and _refusal(run.stdout)["reason"] == "untrusted-tsa"
    root = tmp_path / "root.crt"
    root.write_bytes(world.publisher.home.joinpath("trust-tsa.json").read_bytes())
    doc = json.loads(root.read_bytes())["roots"]["test-tsa"]["certificate"]
    root.write_text(doc)
    assert fresh("trust", "tsa", "add", "t", root).exit_code == 0
    assert fresh("verify", forged, "--trust", "paper").exit_code == 0


def test_edited_token_or_edited_bundle_is_refused(world: World, tmp_path: Path):
    copy = tmp_path / "copy"
    shutil.copytree(world.old, copy)
    manifest = copy / "manifest.json"
    doc = json.loads(manifest.read_bytes())
    tst = doc["signatures"][0]["tst"]
    doc["signatures"][0]["tst"] = tst[:100] + ("A" if tst[100] != "A" else "B") + tst[101:]
    manifest.write_text(json.dumps(doc, sort_keys=True, separators=(",", ":")) + "\n")
    run = world.reader("verify", copy, "--trust", "paper", "--json")
    assert run.exit_code == 3 and _refusal(run.stdout)["reason"] == "bad-timestamp"

    shutil.rmtree(copy)
    shutil.copytree(world.old, copy)
    (copy / "index.html").write_bytes(
        (copy / "index.html").read_bytes().replace(b"Before", b"Befor3")
    )
    run = world.reader("verify", copy, "--trust", "paper", "--json")
    assert run.exit_code == 3 and _refusal(run.stdout)["reason"] == "content-mismatch"


def test_stripping_the_stamp_of_an_old_bundle_is_refused(world: World, tmp_path: Path):
    copy = tmp_path / "stripped"
    shutil.copytree(world.old, copy)
    manifest = copy / "manifest.json"
    doc = json.loads(manifest.read_bytes())
    del doc["signatures"][0]["tst"]
    manifest.write_text(json.dumps(doc, sort_keys=True, separators=(",", ":")) + "\n")
    run = world.reader("verify", copy, "--trust", "paper", "--json")
    assert run.exit_code == 3 and _refusal(run.stdout)["reason"] == "signed-after-rotation"


def test_resign_by_current_keys_rescues_an_unstamped_old_bundle(
    world: World, tsa: TsaServer, tmp_path: Path
):
    unstamped = _attacker_bundle(world, tmp_path / "ours-unstamped", Stamper())
    assert world.reader("verify", unstamped, "--trust", "paper").exit_code == 3
    run = world.publisher("identity", "resign", unstamped, "--tsa", tsa.url)
    assert run.exit_code == 0, run.stderr
    run = world.reader("verify", unstamped, "--trust", "paper", "--json")
    assert run.exit_code == 0, run.stdout
    doc = json.loads(run.stdout)
    assert doc["identity_version"] == 2 and doc["timestamp"]["tsa"] == "test-tsa"


def test_failing_tsa_is_exit_4_and_writes_nothing(
    world: World, tsa_authority: Authority, tmp_path: Path
):
    out = tmp_path / "never"
    with serve_tsa(tsa_authority, "garbage") as bad:
        run = world.publisher("bundle", _page(tmp_path, "X"), "-o", out, "--tsa", bad.url)
        assert run.exit_code == 4, run.stderr
        assert "not a timestamp reply" in run.stderr
        assert len(run.stderr.strip().splitlines()) == 1
        assert not out.exists()
        run = world.publisher(
            "bundle", _page(tmp_path, "X"), "-o", out, "--tsa", bad.url, "--tsa-optional"
        )
    assert run.exit_code == 0, run.stderr
    assert "without a timestamp" in run.stderr
    doc = json.loads((out / "manifest.json").read_bytes())
    assert all("tst" not in s for s in doc["signatures"])


def test_require_timestamps_needs_a_tsa(world: World):
    run = world.publisher("identity", "rotate", "--require-timestamps")
    assert run.exit_code == 2 and "needs --tsa" in run.stderr


def test_capture_stamps_and_verify_prints_the_time(
    mirror: Mirror, tsa: TsaServer, tsa_authority: Authority, tmp_path: Path
):
    page = (
        "<!doctype html><html lang=en><head><meta charset=utf-8><title>Stamped report</title>"
        "</head><body><article><h1>Stamped report</h1>"
        + "".join(f"<p>Paragraph {i} of a report that matters to readers.</p>" for i in range(12))
        + "</article></body></html>"
    )
    assert mirror("trust", "tsa", "add", "local", tsa_authority.root_pem).exit_code == 0
    with serve({"/story": respond(page)}) as server:
        out = tmp_path / "captured"
        run = mirror(
            "capture", "--allow-private", server.url("/story"), "-o", out, "--tsa", tsa.url
        )
        assert run.exit_code == 0, run.stderr
    run = mirror("verify", out, "--trust", "pub")
    assert run.exit_code == 0, run.stderr
    assert "(TSA local)" in run.stdout and "timestamp: existed by " in run.stdout


def test_identity_versions_and_co_signatures_are_stamped(
    mirror: Mirror, tsa: TsaServer, tsa_authority: Authority, tmp_path: Path
):
    env = {"MIRROR_TSA": tsa.url}
    assert mirror("trust", "tsa", "add", "local", tsa_authority.root_pem).exit_code == 0
    assert mirror("identity", "init", "--name", "paper", env=env).exit_code == 0
    roots = [tsa_authority.root()]
    v1 = Envelope.from_bytes((mirror.home / "identity" / "v1.json").read_bytes())
    assert verify_envelope_stamps(v1, roots) is not None
    # a 2-of-2 version whose second signature comes later, from another machine
    carol_home = Mirror(tmp_path / "carol")
    assert carol_home("keygen", "--name", "carol").exit_code == 0
    assert carol_home("trust", "tsa", "add", "local", tsa_authority.root_pem).exit_code == 0
    carol = carol_home("key", "show", "carol").stdout.strip()
    run = mirror("identity", "rotate", "--add", carol, "--threshold", "2", env=env)
    assert run.exit_code == 0, run.stderr
    pending = mirror.home / "identity" / "pending.json"
    first = Envelope.from_bytes(pending.read_bytes())
    assert len(first.signatures) == 1 and first.signatures[0].tst
    run = carol_home("identity", "sign", pending, "--tsa", tsa.url)
    assert run.exit_code == 0, run.stderr
    both = Envelope.from_bytes(pending.read_bytes())
    assert len(both.signatures) == 2 and all(s.tst for s in both.signatures)
    kept = next(s for s in both.signatures if s.keyid == first.signatures[0].keyid)
    assert kept == first.signatures[0]  # the first signer's token is kept as it was
    assert verify_envelope_stamps(both, roots) is not None


def test_feed_signatures_are_stamped_and_checked(
    tsa: TsaServer, tsa_authority: Authority, tmp_path: Path
):
    signing = SigningKey("feed", Ed25519PrivateKey.generate())
    doc = feed.build_feed(signing, [], previous=None, previous_cid=None, ttl=timedelta(days=1))
    data = feed.sign_feed(doc, signing, stamp=Stamper((tsa.url,)).stamp)
    env = Envelope.from_bytes(data)
    assert env.signatures[0].tst is not None
    assert verify_envelope_stamps(env, [tsa_authority.root()]) is not None
    trusted = [TrustedKey("feed", signing.public, "")]
    home = Home(tmp_path / "follower")
    with pytest.raises(VerificationError, check=lambda e: e.reason == "untrusted-tsa"):
        feed.verify_feed(data, trusted, home=home)  # never silently ignored
    assert Mirror(home.root)("trust", "tsa", "add", "t", tsa_authority.root_pem).exit_code == 0
    assert feed.verify_feed(data, trusted, home=home).feed.version == 1


def test_publisher_cannot_sign_unstamped_under_a_version_requiring_timestamps(
    world: World, tmp_path: Path
):
    out = tmp_path / "unstamped-publisher"
    run = world.publisher("bundle", _page(tmp_path, "Y"), "-o", out)
    assert run.exit_code == 2 and "requires timestamps" in run.stderr
    assert not out.exists()


def test_publisher_never_stamps_with_a_tsa_it_does_not_trust(
    mirror: Mirror,
    tsa: TsaServer,
    stranger_tsa: TsaServer,
    tsa_authority: Authority,
    tmp_path: Path,
):
    """Its own push and `verify --all` would refuse such a bundle: exit 2 before writing."""
    out = tmp_path / "b"
    run = mirror("bundle", _page(tmp_path, "Z"), "-o", out, "--tsa", tsa.url)
    assert run.exit_code == 2 and "mirror trust tsa add" in run.stderr, run.stderr
    assert not out.exists()
    assert mirror("trust", "tsa", "add", "local", tsa_authority.root_pem).exit_code == 0
    run = mirror("bundle", _page(tmp_path, "Z"), "-o", out, "--tsa", stranger_tsa.url)
    assert run.exit_code == 2 and not out.exists()
    run = mirror(
        "bundle", _page(tmp_path, "Z"), "-o", out, "--tsa", stranger_tsa.url, "--tsa", tsa.url
    )
    assert run.exit_code == 2  # an untrusted TSA is a setup error, not a TSA to skip
    run = mirror("bundle", _page(tmp_path, "Z"), "-o", out, "--tsa", tsa.url)
    assert run.exit_code == 0, run.stderr
    assert mirror("verify", "--all").exit_code == 0
