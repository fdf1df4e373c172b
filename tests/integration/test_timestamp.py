"""RFC 3161 timestamps against real OpenSSL TSAs on 127.0.0.1 (tests/helpers/tsa.py).

Security case 39: tokens that do not match, come from an untrusted TSA, lack the
timestamping key usage, or were made by a certificate not valid then are refused
with a named reason (exit 3); a TSA that hangs or answers garbage is exit 4 within
the timeout.
"""

from __future__ import annotations

import socket
import time
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from mirror import envelope as env
from mirror.errors import NetworkError, UsageError, VerificationError
from mirror.keys import SigningKey
from mirror.timeline import TimestampPolicy, merged_roots, version_times
from mirror.timestamp import (
    TsaRoot,
    build_request,
    load_root_certificate,
    request_token,
    stamp_envelope,
    verify_envelope_stamps,
    verify_token,
)
from tests.helpers.tsa import Authority, TsaServer, needs_openssl, serve_tsa

pytestmark = needs_openssl

DATA = b"\x01" * 64  # the raw bytes of a signature are what gets stamped


def refused(reason: str) -> pytest.RaisesExc[VerificationError]:
    """Expect a VerificationError (exit 3) with exactly this reason."""
    return pytest.raises(VerificationError, check=lambda e: e.reason == reason)


def _move_time(token: bytes, by: timedelta) -> bytes:
    """Move the TSA-signed genTime (GeneralizedTime YYYYMMDDHHMMSSZ, same length)."""
    year = str(datetime.now(UTC).year).encode()
    at = token.find(year)
    assert at > 0 and token[at + 14 : at + 15] == b"Z"
    old = datetime.strptime(token[at : at + 14].decode(), "%Y%m%d%H%M%S")
    new = (old + by).strftime("%Y%m%d%H%M%S").encode()
    return token[:at] + new + token[at + 14 :]


def test_token_over_bytes_verifies_and_gives_its_time(tsa: TsaServer, tsa_authority: Authority):
    before = datetime.now(UTC).replace(microsecond=0)
    token = request_token(tsa.url, DATA)
    stamp = verify_token(token, DATA, [tsa_authority.root("test-tsa")])
    assert before - timedelta(seconds=2) <= stamp.time <= datetime.now(UTC) + timedelta(seconds=2)
    assert stamp.tsa == "test-tsa"
    assert stamp.subject == "CN=Test TSA"
    assert stamp.to_dict()["time"].endswith("Z") and stamp.to_dict()["tsa"] == "test-tsa"
    assert len(tsa.queries) >= 1


def test_changed_byte_of_stamped_data_is_bad_timestamp(tsa: TsaServer, tsa_authority: Authority):
    token = request_token(tsa.url, DATA)
    with refused("bad-timestamp") as info:
        verify_token(token, DATA[:-1] + b"\x02", [tsa_authority.root()])
    assert "other bytes" in info.value.message


def test_changed_token_time_is_bad_timestamp(tsa: TsaServer, tsa_authority: Authority):
    token = request_token(tsa.url, DATA)
    moved = _move_time(token, timedelta(minutes=1))  # still within the cert's validity
    assert moved != token
    with refused("bad-timestamp") as info:
        verify_token(moved, DATA, [tsa_authority.root()])
    assert "does not verify" in info.value.message


def test_truncated_or_garbage_token_is_bad_timestamp(tsa: TsaServer, tsa_authority: Authority):
    token = request_token(tsa.url, DATA)
    for broken in (token[:-7], b"not a token", b"", token + b"\x00" * (70 << 10)):
        with refused("bad-timestamp"):
            verify_token(broken, DATA, [tsa_authority.root()])


def test_wrong_root_is_untrusted_tsa(tsa: TsaServer, stranger_authority: Authority):
    token = request_token(tsa.url, DATA)
    with refused("untrusted-tsa") as info:
        verify_token(token, DATA, [stranger_authority.root()])
    assert "trust tsa add" in info.value.message
    with refused("untrusted-tsa"):
        verify_token(token, DATA, [])


def test_token_from_second_tsa_is_untrusted(stranger_tsa: TsaServer, tsa_authority: Authority):
    token = request_token(stranger_tsa.url, DATA)
    with refused("untrusted-tsa"):
        verify_token(token, DATA, [tsa_authority.root()])


def test_both_roots_trusted_names_the_one_it_chains_to(
    stranger_tsa: TsaServer, tsa_authority: Authority, stranger_authority: Authority
):
    token = request_token(stranger_tsa.url, DATA)
    roots = [tsa_authority.root("a"), stranger_authority.root("b")]
    assert verify_token(token, DATA, roots).tsa == "b"


@pytest.mark.parametrize(
    ("signer", "words"),
    [
        ("noeku", "lacks the timestamping extended key usage"),
        ("noncritical", "extended key usage is not critical"),
        ("extra", "extended key usage must be timestamping only"),
    ],
)
def test_certificate_without_proper_timestamping_usage_is_bad_timestamp(
    signer: str, words: str, tsa: TsaServer, tsa_authority: Authority
):
    genuine = request_token(tsa.url, DATA)
    forged = tsa_authority.resign(genuine, signer)
    assert forged != genuine
    with refused("bad-timestamp") as info:
        verify_token(forged, DATA, [tsa_authority.root()])
    assert words in info.value.message
    # the same re-signing with the proper certificate verifies: the refusal is the usage
    assert verify_token(tsa_authority.resign(genuine, "tsa"), DATA, [tsa_authority.root()])


def test_certificate_not_valid_at_stamped_time_is_bad_timestamp(tsa_authority: Authority):
    query = build_request(DATA).as_bytes()
    token = tsa_authority.reply(query, signer="expired")
    with refused("bad-timestamp") as info:
        verify_token(token, DATA, [tsa_authority.root()])
    assert "not valid at the stamped time" in info.value.message


def test_tsa_under_an_intermediate_ca_verifies_when_the_token_carries_the_chain(
    tsa_authority: Authority, stranger_authority: Authority
):
    query = build_request(DATA).as_bytes()
    with_chain = tsa_authority.reply(query, signer="chained", chain=True)
    stamp = verify_token(with_chain, DATA, [tsa_authority.root("root")])
    assert stamp.tsa == "root" and stamp.subject == "CN=Test TSA"
    with refused("untrusted-tsa"):
        verify_token(with_chain, DATA, [stranger_authority.root()])
    # without the intermediate the chain cannot be built to the root: not trusted
    with refused("untrusted-tsa"):
        verify_token(tsa_authority.reply(query, signer="chained"), DATA, [tsa_authority.root()])
    # an intermediate is not an anchor: trust starts at a self-signed root
    with pytest.raises(UsageError, match="not self-signed"):
        load_root_certificate(tsa_authority.intermediate.read_bytes())


def test_certificate_set_out_of_der_order_is_refused_when_signing_and_reading(
    tsa_authority: Authority,
):
    """A known limit (decision 0008): OpenSSL writes the token's certificates signer
    first, not sorted as DER requires, and rfc3161-client's strict parser refuses
    such a token; the publisher learns it when signing (exit 4), never a reader later."""
    query = build_request(DATA).as_bytes()
    unsorted = tsa_authority.reply(query, signer="chained-unsorted", chain=True)
    with refused("bad-timestamp") as info:
        verify_token(unsorted, DATA, [tsa_authority.root()])
    assert "does not parse" in info.value.message
    with (
        serve_tsa(tsa_authority, signer="chained-unsorted", chain=True) as server,
        pytest.raises(NetworkError, match="not a timestamp reply"),
    ):
        request_token(server.url, DATA)
    with serve_tsa(tsa_authority, signer="chained", chain=True) as server:
        assert verify_token(request_token(server.url, DATA), DATA, [tsa_authority.root()])


def test_root_certificate_must_be_a_self_signed_ca(tsa_authority: Authority):
    assert load_root_certificate(tsa_authority.root_pem.read_bytes())
    for bad, words in (
        (tsa_authority.signer("tsa").read_bytes(), "not a CA"),
        (b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "not a PEM"),
        (b"hello", "not a PEM"),
        (tsa_authority.root_pem.read_bytes() * 2, "exactly one"),
    ):
        with pytest.raises(UsageError, match=words):
            load_root_certificate(bad)


# --- the TSA misbehaving: exit 4, within the timeout ------------------------------


@pytest.mark.parametrize(
    ("mode", "words"),
    [
        ("garbage", "not a timestamp reply"),
        ("error", "HTTP 500"),
        ("huge", "larger than"),
    ],
)
def test_tsa_answering_badly_is_network_error(mode: str, words: str, tsa_authority: Authority):
    with serve_tsa(tsa_authority, mode) as server, pytest.raises(NetworkError, match=words) as e:
        request_token(server.url, DATA)
    assert e.value.exit_code == 4


def test_tsa_replaying_an_old_reply_is_network_error(tsa_authority: Authority):
    with serve_tsa(tsa_authority, "replay") as server:
        request_token(server.url, DATA)
        with pytest.raises(NetworkError, match="nonce"):
            request_token(server.url, DATA)
        with pytest.raises(NetworkError, match="other bytes"):
            request_token(server.url, b"\x02" * 64)


def test_tsa_that_never_answers_fails_within_the_timeout(tsa_authority: Authority):
    with serve_tsa(tsa_authority, "hang") as server:
        started = time.monotonic()
        with pytest.raises(NetworkError, match="did not answer within 1s"):
            request_token(server.url, DATA, timeout=1.0)
        assert time.monotonic() - started < 5
        assert len(server.queries) == 1


def test_unreachable_tsa_and_bad_url():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    with pytest.raises(NetworkError, match="cannot reach TSA"):
        request_token(f"http://127.0.0.1:{port}/", DATA, timeout=2)
    with pytest.raises(UsageError, match="http"):
        request_token("file:///etc/passwd", DATA)


# --- envelopes --------------------------------------------------------------------


def _envelope() -> env.Envelope:
    keys = [SigningKey(n, Ed25519PrivateKey.generate()) for n in ("a", "b")]
    return env.sign(env.MANIFEST_TYPE, b'{"x":1}', keys)


def test_stamp_envelope_fills_every_signature_and_round_trips(
    tsa: TsaServer, tsa_authority: Authority
):
    dead = "http://127.0.0.1:9/tsr"  # discard port: refused, so the next URL is tried
    stamped = stamp_envelope(_envelope(), [dead, tsa.url], timeout=3)
    assert all(s.tst is not None for s in stamped.signatures)
    again = env.Envelope.from_bytes(stamped.to_bytes())
    assert again == stamped
    stamp = verify_envelope_stamps(again, [tsa_authority.root("t")])
    assert stamp is not None and stamp.tsa == "t"
    with refused("untrusted-tsa"):
        verify_envelope_stamps(again, [])


def test_earliest_stamp_and_keeping_existing_tokens(tsa: TsaServer, tsa_authority: Authority):
    roots = [tsa_authority.root()]
    one = stamp_envelope(_envelope(), [tsa.url])
    time.sleep(1.1)  # two stamps whose times differ (the TSA's clock has seconds)
    key = SigningKey("c", Ed25519PrivateKey.generate())
    two = stamp_envelope(env.add_signature(one, key), [tsa.url])
    old = {s.keyid: s for s in one.signatures}
    assert [s for s in two.signatures if s.keyid in old] == list(one.signatures)  # kept
    times = {s.keyid: verify_token(s.tst or b"", s.sig, roots).time for s in two.signatures}
    assert times[key.public.key_id] > max(times[k] for k in old)
    earliest = verify_envelope_stamps(two, roots)
    assert earliest is not None and earliest.time == min(times.values())


def test_token_moved_to_another_signature_is_bad_timestamp(
    tsa: TsaServer, tsa_authority: Authority
):
    stamped = stamp_envelope(_envelope(), [tsa.url])
    a, b = stamped.signatures
    swapped = env.Envelope(
        stamped.payload_type,
        stamped.payload,
        (env.Signature(a.keyid, a.sig, b.tst), b),
    )
    with refused("bad-timestamp"):
        verify_envelope_stamps(swapped, [tsa_authority.root()])


def test_unstamped_envelope_has_no_time(tsa_authority: Authority):
    assert verify_envelope_stamps(_envelope(), [tsa_authority.root()]) is None


def test_failing_tsa_is_exit_4_unless_optional(tsa_authority: Authority):
    original = _envelope()
    with serve_tsa(tsa_authority, "garbage") as server:
        with pytest.raises(NetworkError, match="no timestamp for signature"):
            stamp_envelope(original, [server.url])
        warnings: list[str] = []
        kept = stamp_envelope(original, [server.url], optional=True, warn=warnings.append)
    assert kept == original
    assert len(warnings) == 2 and "without a timestamp" in warnings[0]
    assert stamp_envelope(original, []) is original


def test_roots_from_pem_have_fingerprints(tsa_authority: Authority, stranger_authority: Authority):
    a, b = tsa_authority.root(), stranger_authority.root()
    assert a.fingerprint.startswith("sha256:") and a.fingerprint != b.fingerprint
    assert TsaRoot.from_pem("x", a.to_pem()).der == a.der


# --- identity versions: the timestamps field and version times ------------------


def test_identity_timestamp_policy_round_trips_and_is_strict(
    tsa_authority: Authority, stranger_authority: Authority
):
    policy = TimestampPolicy(True, (tsa_authority.root("newsroom"),))
    field = policy.to_field()
    again = TimestampPolicy.from_extra({"timestamps": field})
    assert again.required and [r.der for r in again.roots] == [tsa_authority.root().der]
    assert TimestampPolicy.from_extra({}) == TimestampPolicy()
    pem = tsa_authority.root_pem.read_text()
    leaf = tsa_authority.signer("tsa").read_text()
    for bad in (
        {"required": "yes", "tsa": []},
        {"required": True},
        {"required": True, "tsa": [], "extra": 1},
        {"required": True, "tsa": [{"name": "x"}]},
        {"required": True, "tsa": [{"name": "bad name", "certificate": pem}]},
        {"required": True, "tsa": [{"name": "leaf", "certificate": leaf}]},
        {"required": True, "tsa": [{"name": "n", "certificate": pem}] * 5},
        [],
    ):
        with pytest.raises(UsageError):
            TimestampPolicy.from_extra({"timestamps": bad})
    # reader's names win for a root both trust; identity roots are added after them
    mine = tsa_authority.root("my-name")
    merged = merged_roots([mine], [policy, TimestampPolicy(False, (stranger_authority.root(),))])
    assert [r.name for r in merged] == ["my-name", "Stranger TSA"]


def test_version_times_use_each_versions_earliest_stamp(
    tsa: TsaServer, tsa_authority: Authority, stranger_tsa: TsaServer
):
    roots = [tsa_authority.root()]
    v1 = _envelope()
    v2 = stamp_envelope(_envelope(), [tsa.url])
    times = version_times([(1, TimestampPolicy(), v1), (2, TimestampPolicy(True), v2)], roots)
    assert times[0].stamped is None and not times[0].requires_timestamps
    assert times[1].requires_timestamps and times[1].stamped is not None
    assert abs(times[1].stamped - datetime.now(UTC)) < timedelta(minutes=1)
    foreign = stamp_envelope(_envelope(), [stranger_tsa.url])
    with refused("untrusted-tsa"):
        version_times([(1, TimestampPolicy(True), foreign)], roots)
