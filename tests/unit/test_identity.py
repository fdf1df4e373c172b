"""Identity chains: links, thresholds, revocation and the manifest verdict, in memory."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from mirror import canonjson, envelope, identity_state, publisher, verify
from mirror import identity as ident
from mirror.config import Home
from mirror.envelope import Envelope
from mirror.errors import UsageError, VerificationError
from mirror.keys import SigningKey, TrustedKey
from mirror.manifest import Article, Manifest, Provenance, Publisher
from tests.helpers.trust import trust_of

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def _key(name: str) -> SigningKey:
    return SigningKey(name, Ed25519PrivateKey.generate())


@pytest.fixture(scope="module")
def k() -> dict[str, SigningKey]:
    return {n: _key(n) for n in "ABCDEFX"}


def _sign(doc: ident.Identity, *signers: SigningKey) -> Envelope:
    return envelope.sign(envelope.IDENTITY_TYPE, doc.to_bytes(), list(signers))


def _extend(chain: ident.Chain, env: Envelope) -> ident.Chain:
    link = ident.verify_link(chain.links[-1], env, chain.revoked)
    return ident.Chain((*chain.links, link))


def build(k: dict[str, SigningKey]) -> tuple[list[Envelope], ident.Chain]:
    """v1 {A}; v2 {A,B,C} 2-of-3; v3 {B,C,D} 2-of-3; v4 revokes D, adds E: {B,C,E} 2-of-3."""
    pub = {n: s.public for n, s in k.items()}
    v1 = ident.Identity("paper", 1, "2027-01-01T00:00:00Z", 1, (pub["A"],))
    e1 = _sign(v1, k["A"])
    chain = ident.Chain((ident.verify_link(None, e1, frozenset()),))
    d2 = publisher.next_version(chain, add=[pub["B"], pub["C"]], threshold=2, now=NOW)
    chain = _extend(chain, e2 := _sign(d2, k["A"], k["B"], k["C"]))
    d3 = publisher.next_version(chain, add=[pub["D"]], remove=[pub["A"]], now=NOW)
    chain = _extend(chain, e3 := _sign(d3, k["B"], k["C"], k["D"]))
    d4 = publisher.next_version(chain, revoke=[pub["D"]], add=[pub["E"]], now=NOW)
    chain = _extend(chain, e4 := _sign(d4, k["B"], k["C"], k["E"]))
    return [e1, e2, e3, e4], chain


def manifest_env(version: int | None, *signers: SigningKey) -> Envelope:
    publisher = Publisher(signers[0].public.key_id, version)
    m = Manifest("2026-01-02T03:04:05Z", publisher, Article(title="t"), Provenance(), ())
    return envelope.sign(envelope.MANIFEST_TYPE, m.to_bytes(), list(signers))


def test_chain_walks_from_v1_key(k: dict[str, SigningKey]) -> None:
    envs, built = build(k)
    chain = ident.verify_chain(envs, [k["A"].public])
    assert chain.current.version == 4
    assert [link.digest for link in chain.links] == [link.digest for link in built.links]
    assert chain.revoked == {k["D"].public}
    assert chain.current.keys == (k["B"].public, k["C"].public, k["E"].public)


def test_a_later_key_that_signed_its_version_is_an_anchor(k: dict[str, SigningKey]) -> None:
    envs, _ = build(k)
    assert ident.verify_chain(envs, [k["B"].public]).current.version == 4


def test_untrusted_anchor_refused(k: dict[str, SigningKey]) -> None:
    envs, _ = build(k)
    with pytest.raises(VerificationError, match="not signed by a trusted key"):
        ident.verify_chain(envs, [k["X"].public])


def test_missing_link_refused(k: dict[str, SigningKey]) -> None:
    envs, _ = build(k)
    with pytest.raises(VerificationError, match="versions must go up by one"):
        ident.verify_chain([envs[0], envs[2], envs[3]], [k["A"].public])


def test_chain_not_starting_at_v1_refused(k: dict[str, SigningKey]) -> None:
    envs, _ = build(k)
    with pytest.raises(VerificationError, match="must start at version 1"):
        ident.verify_chain(envs[1:], [k["B"].public])


def test_forged_link_refused(k: dict[str, SigningKey]) -> None:
    """An attacker's v3 listing only their keys, signed only by them."""
    envs, chain = build(k)
    v2 = chain.links[1]
    forged = dataclasses.replace(
        chain.version(3), keys=(k["X"].public,), threshold=1, revoked=(), previous=v2.digest
    )
    with pytest.raises(VerificationError, match="unrevoked keys of version 2"):
        ident.verify_chain([envs[0], envs[1], _sign(forged, k["X"])], [k["A"].public])


def test_threshold_not_met_by_old_keys(k: dict[str, SigningKey]) -> None:
    """v3 {D,E,F} fully self-signed but with one v2 key (threshold 2) -> refused."""
    envs, chain = build(k)
    doc = dataclasses.replace(chain.version(3), keys=(k["D"].public, k["E"].public, k["F"].public))
    env = _sign(doc, k["D"], k["E"], k["F"], k["B"])
    with pytest.raises(VerificationError, match="1 unrevoked keys of version 2, 2 required"):
        ident.verify_chain([envs[0], envs[1], env], [k["A"].public])


def test_threshold_not_met_by_own_keys(k: dict[str, SigningKey]) -> None:
    envs, chain = build(k)
    env = _sign(chain.version(2), k["A"], k["B"])  # C missing is fine: 2 of 3
    ident.verify_chain([envs[0], env], [k["A"].public])
    env = _sign(chain.version(2), k["A"])
    with pytest.raises(VerificationError, match="signed by 1 of its own keys, 2 required"):
        ident.verify_chain([envs[0], env], [k["A"].public])


def test_duplicate_signatures_count_once(k: dict[str, SigningKey]) -> None:
    envs, chain = build(k)
    one = _sign(chain.version(2), k["A"])
    tripled = Envelope(one.payload_type, one.payload, one.signatures * 3)
    with pytest.raises(VerificationError, match="1 of its own keys, 2 required"):
        ident.verify_chain([envs[0], tripled], [k["A"].public])


def test_previous_hash_mismatch(k: dict[str, SigningKey]) -> None:
    envs, chain = build(k)
    doc = dataclasses.replace(chain.version(2), previous="sha256:" + "0" * 64)
    with pytest.raises(VerificationError, match="previous hash does not match"):
        ident.verify_chain([envs[0], _sign(doc, k["A"], k["B"], k["C"])], [k["A"].public])


def test_version_skip_refused(k: dict[str, SigningKey]) -> None:
    envs, chain = build(k)
    doc = dataclasses.replace(chain.version(2), version=3)
    with pytest.raises(VerificationError, match="go up by one"):
        ident.verify_chain([envs[0], _sign(doc, k["A"], k["B"], k["C"])], [k["A"].public])


def test_revoked_key_cannot_return(k: dict[str, SigningKey]) -> None:
    envs, chain = build(k)
    with pytest.raises(UsageError, match="cannot be added back"):
        publisher.next_version(chain, add=[k["D"].public])
    doc = dataclasses.replace(
        chain.current,
        version=5,
        previous=chain.links[-1].digest,
        keys=(*chain.current.keys, k["D"].public),
        revoked=(),
    )
    env = _sign(doc, k["B"], k["C"], k["E"], k["D"])
    with pytest.raises(VerificationError, match="revoked earlier"):
        ident.verify_chain([*envs, env], [k["A"].public])


def test_revoked_key_does_not_count_for_the_revoking_link(k: dict[str, SigningKey]) -> None:
    envs, chain = build(k)
    d4 = chain.version(4)
    env = _sign(d4, k["B"], k["D"], k["C"], k["E"])
    ident.verify_chain([*envs[:3], env], [k["A"].public])
    env = _sign(d4, k["B"], k["D"], k["E"])  # of v3's keys only B and the revoked D
    with pytest.raises(VerificationError, match="1 unrevoked keys of version 3"):
        ident.verify_chain([*envs[:3], env], [k["A"].public])


@pytest.mark.parametrize(
    "change, message",
    [
        ({"threshold": 3}, "threshold 3 is not between 1 and 1"),
        ({"threshold": 0}, "threshold 0"),
        ({"format": "mirror-identity/9"}, "identity format"),
        ({"version": 0}, "version must be an integer"),
        ({"previous": "sha256:" + "1" * 64}, "previous must be null"),
        ({"expires": "tomorrow"}, "expires must be a UTC time"),
        ({"keys": []}, "at least one key"),
    ],
)
def test_bad_documents_refused(
    k: dict[str, SigningKey], change: dict[str, object], message: str
) -> None:
    d = ident.Identity("paper", 1, "2027-01-01T00:00:00Z", 1, (k["A"].public,)).to_dict()
    d.update(change)
    with pytest.raises(UsageError, match=message):
        ident.Identity.from_dict(d)


def test_key_current_and_revoked_refused(k: dict[str, SigningKey]) -> None:
    d = ident.Identity("paper", 1, "2027-01-01T00:00:00Z", 1, (k["A"].public,)).to_dict()
    d["revoked"] = [k["A"].public.to_text()]
    with pytest.raises(UsageError, match="both current and revoked"):
        ident.Identity.from_dict(d)


def test_unknown_fields_kept_and_signed(k: dict[str, SigningKey]) -> None:
    d = ident.Identity("paper", 1, "2027-01-01T00:00:00Z", 1, (k["A"].public,)).to_dict()
    d["contact"] = "desk@example.org"
    doc = ident.Identity.from_dict(d)
    assert doc.to_bytes() == canonjson.dumps(d)


def test_chain_file_round_trip_and_damage(k: dict[str, SigningKey]) -> None:
    envs, chain = build(k)
    data = chain.to_bytes()
    assert [e.to_bytes() for e in ident.parse_chain(data)] == [e.to_bytes() for e in envs]
    with pytest.raises(VerificationError, match="damaged"):
        ident.parse_chain(data[:-20])
    with pytest.raises(UsageError):
        ident.parse_chain(b'{"format":"mirror-identity-chain/1","format":"x"}')


# -- the manifest verdict -------------------------------------------------------------------


def _judge(chain: ident.Chain, env: Envelope, anchor: SigningKey) -> TrustedKey:
    trusted = TrustedKey("paper", anchor.public, "")
    return verify.judge_manifest(
        env.to_bytes(), chain.to_bytes(), trust_of([trusted], {anchor.public: chain})
    ).signer


def test_manifest_under_v4_by_two_of_three(k: dict[str, SigningKey]) -> None:
    _, chain = build(k)
    signer = _judge(chain, manifest_env(4, k["C"], k["E"]), k["A"])
    assert signer.name == "paper" and signer.key == k["C"].public


def test_manifest_by_revoked_key_alone_refused(k: dict[str, SigningKey]) -> None:
    _, chain = build(k)
    for version in (3, 4):
        with pytest.raises(VerificationError, match="revoked in identity 'paper' version 4"):
            _judge(chain, manifest_env(version, k["D"]), k["A"])


def test_revoked_signature_no_longer_counts_toward_threshold(k: dict[str, SigningKey]) -> None:
    envs, chain = build(k)
    env = manifest_env(3, k["B"], k["D"])
    before = ident.verify_chain(envs[:3], [k["A"].public])
    assert _judge(before, env, k["A"]).key == k["B"].public
    with pytest.raises(VerificationError, match="revoked"):
        _judge(chain, env, k["A"])
    assert _judge(chain, manifest_env(3, k["B"], k["C"], k["D"]), k["A"]).key == k["B"].public


def test_resigned_by_current_keys_valid(k: dict[str, SigningKey]) -> None:
    _, chain = build(k)
    env = manifest_env(3, k["B"], k["D"])
    env = envelope.add_signature(env, k["E"])  # B and E: a threshold of v4
    assert _judge(chain, env, k["A"]).key in (k["B"].public, k["E"].public)


def test_rotated_out_in_good_standing_stays_valid(k: dict[str, SigningKey]) -> None:
    _, chain = build(k)
    assert _judge(chain, manifest_env(1, k["A"]), k["A"]).key == k["A"].public
    # ... but A cannot sign under v4, where it is no longer a key
    with pytest.raises(VerificationError, match="0 valid signature"):
        _judge(chain, manifest_env(4, k["A"]), k["A"])


def test_duplicate_manifest_signatures_count_once(k: dict[str, SigningKey]) -> None:
    _, chain = build(k)
    one = manifest_env(4, k["C"])
    doubled = Envelope(one.payload_type, one.payload, one.signatures * 2)
    with pytest.raises(VerificationError, match=r"1 valid signature.*2 required"):
        _judge(chain, doubled, k["A"])


def test_manifest_naming_unknown_version(k: dict[str, SigningKey]) -> None:
    envs, _ = build(k)
    short = ident.verify_chain(envs[:2], [k["A"].public])
    with pytest.raises(VerificationError, match="only versions up to 2 are known"):
        _judge(short, manifest_env(4, k["C"], k["E"]), k["A"])


def test_manifest_by_outsider_refused(k: dict[str, SigningKey]) -> None:
    _, chain = build(k)
    with pytest.raises(VerificationError, match="not signed by a trusted key"):
        _judge(chain, manifest_env(4, k["X"]), k["A"])


def test_legacy_manifest_needs_the_trusted_key(k: dict[str, SigningKey]) -> None:
    _, chain = build(k)
    assert _judge(chain, manifest_env(None, k["A"]), k["A"]).key == k["A"].public
    with pytest.raises(VerificationError, match="revoked"):
        _judge(chain, manifest_env(None, k["D"]), k["D"])


# -- memory ----------------------------------------------------------------------------------


def test_remember_moves_forward_refuses_rollback_and_forks(
    k: dict[str, SigningKey], tmp_path: Path
) -> None:
    home = Home(tmp_path)
    envs, _ = build(k)
    anchor = k["A"].public
    short = ident.verify_chain(envs[:2], [anchor])
    full = ident.verify_chain(envs, [anchor])
    assert identity_state.remembered_version(home, anchor) == 0
    identity_state.save(home, anchor, short)
    assert identity_state.remembered_version(home, anchor) == 2
    identity_state.save(home, anchor, full)
    assert identity_state.remembered_version(home, anchor) == 4
    state = sorted((tmp_path / "state" / "identity").iterdir())
    before = state[0].read_bytes()
    # a shorter chain (an old bundle's) never moves the memory back
    identity_state.save(home, anchor, short)
    assert state[0].read_bytes() == before
    # a different version 2 (a fork signed by A alone) is refused when merged
    fork_doc = dataclasses.replace(full.version(2), threshold=1, keys=(anchor,))
    fork = ident.verify_chain([envs[0], _sign(fork_doc, k["A"])], [anchor])
    with pytest.raises(VerificationError, match="two different version 2") as info:
        ident.merge([fork, full])
    assert info.value.reason == "identity-invalid"
    assert state[0].read_bytes() == before
    assert identity_state.remembered_version(home, anchor) == 4
