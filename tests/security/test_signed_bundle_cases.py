"""SECURITY-CASES 13-19: manifest, envelope and signature attacks on a bundle folder."""

from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mirror import canonjson, envelope, keys, verify
from mirror.config import Home
from mirror.errors import UsageError, VerificationError
from mirror.manifest import Manifest
from tests.conftest import PASSPHRASE, Mirror
from tests.helpers.trust import trust_of


@pytest.fixture
def signed(mirror: Mirror, page_dir: Path, tmp_path: Path) -> Path:
    out = tmp_path / "bundle"
    run = mirror("bundle", page_dir, "--url", "https://example.org/a", "-o", out)
    assert run.exit_code == 0, run.stderr
    return out


def signing_key(mirror: Mirror, name: str = "pub") -> keys.SigningKey:
    return keys.load_signing_key(Home(mirror.home), name, PASSPHRASE)


def payload_of(bundle: Path) -> dict:
    env = json.loads((bundle / "manifest.json").read_bytes())
    return json.loads(base64.b64decode(env["payload"]))


def write_envelope(
    bundle: Path, payload: bytes, key: keys.SigningKey, payload_type: str = envelope.MANIFEST_TYPE
) -> None:
    (bundle / "manifest.json").write_bytes(envelope.sign(payload_type, payload, [key]).to_bytes())


def raw_envelope(bundle: Path, payload: bytes, sig: bytes, keyid: str) -> None:
    doc = {
        "payload": base64.b64encode(payload).decode(),
        "payloadType": envelope.MANIFEST_TYPE,
        "signatures": [{"keyid": keyid, "sig": base64.b64encode(sig).decode()}],
    }
    (bundle / "manifest.json").write_bytes(json.dumps(doc).encode())


# --- case 13 -------------------------------------------------------------------


@pytest.mark.parametrize(
    "mutate",
    [
        lambda text: text.replace('{"article":', '{"format":"x","article":', 1),  # duplicate key
        lambda text: text.replace('"size":', '"size":NaN,"x":', 1),
        lambda text: text.replace('"size":', '"size":1' + "0" * 5000 + ',"x":', 1),
        lambda text: text.replace(
            '"size":', '"size":' + "[" * 100_000 + "]" * 100_000 + ',"x":', 1
        ),
        lambda text: text.replace('"title":"', '"title":"\\udc00', 1),
    ],
    ids=["duplicate-key", "nan", "5000-digit-int", "deep-nesting", "lone-surrogate"],
)
def test_case_13_hostile_signed_json_is_exit_2(mirror: Mirror, signed: Path, mutate) -> None:
    text = canonjson.dumps(payload_of(signed)).decode()
    hostile = mutate(text).encode()
    assert hostile != text.encode()
    write_envelope(signed, hostile, signing_key(mirror))  # validly signed, yet hostile
    run = mirror("verify", signed, "--trust", "pub")
    assert run.exit_code == 2, run.stderr
    assert run.stderr.count("\n") == 1 and "Traceback" not in run.stderr


def test_case_13_hostile_envelope_is_exit_2(mirror: Mirror, signed: Path) -> None:
    data = (signed / "manifest.json").read_bytes()
    (signed / "manifest.json").write_bytes(
        data.replace(b'{"payload"', b'{"payloadType":"x","payload"', 1)
    )
    assert mirror("verify", signed, "--trust", "pub").exit_code == 2


@pytest.mark.parametrize("data", [b'{"a":1} trailing', b'\xff\xfe{"a":1}'])
def test_case_13_trailing_bytes_and_non_utf8_refused_by_parser(data: bytes) -> None:
    with pytest.raises(UsageError):
        canonjson.loads(data, max_size=1024)


# --- case 14 -------------------------------------------------------------------


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_case_14_flipped_payload_or_signature_byte_is_exit_3(
    mirror: Mirror, signed: Path, data
) -> None:
    original = (signed / "manifest.json").read_bytes()
    env = envelope.Envelope.from_bytes(original)
    trusted = list(keys.load_trust(Home(mirror.home)).values())
    which = data.draw(st.sampled_from(["payload", "sig"]))
    blob = bytearray(env.payload if which == "payload" else env.signatures[0].sig)
    position = data.draw(st.integers(0, len(blob) - 1))
    blob[position] ^= data.draw(st.integers(1, 255))
    if which == "payload":
        tampered = envelope.Envelope(env.payload_type, bytes(blob), env.signatures)
    else:
        tampered = envelope.Envelope(
            env.payload_type,
            env.payload,
            (envelope.Signature(env.signatures[0].keyid, bytes(blob)),),
        )
    (signed / "manifest.json").write_bytes(tampered.to_bytes())
    try:
        with pytest.raises(VerificationError):
            verify.check_folder(signed, trust_of(trusted))
    finally:
        (signed / "manifest.json").write_bytes(original)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_case_14_flipped_content_byte_is_exit_3(mirror: Mirror, signed: Path, data) -> None:
    files = sorted(p for p in signed.rglob("*") if p.is_file() and p.name != "manifest.json")
    path = data.draw(st.sampled_from(files))
    original = path.read_bytes()
    changed = bytearray(original)
    changed[data.draw(st.integers(0, len(original) - 1))] ^= data.draw(st.integers(1, 255))
    path.write_bytes(bytes(changed))
    trusted = list(keys.load_trust(Home(mirror.home)).values())
    try:
        with pytest.raises(VerificationError):
            verify.check_folder(signed, trust_of(trusted))
    finally:
        path.write_bytes(original)


def test_case_14_any_raw_byte_of_manifest_json_never_verifies(mirror: Mirror, signed: Path) -> None:
    original = (signed / "manifest.json").read_bytes()
    trusted = list(keys.load_trust(Home(mirror.home)).values())
    step = max(1, len(original) // 97)
    for position in range(0, len(original), step):
        changed = bytearray(original)
        changed[position] ^= 0x01  # stays ASCII: damage, not a hostile construct
        (signed / "manifest.json").write_bytes(bytes(changed))
        with pytest.raises((VerificationError, UsageError)) as info:
            verify.check_folder(signed, trust_of(trusted))
        assert info.value.exit_code in (2, 3)
    (signed / "manifest.json").write_bytes(original)


# --- case 15 -------------------------------------------------------------------


def test_case_15_untrusted_signer_is_exit_3(mirror: Mirror, signed: Path) -> None:
    write_envelope(signed, canonjson.dumps(payload_of(signed)), signing_key(mirror, "other"))
    run = mirror("verify", signed, "--trust", "pub")
    assert run.exit_code == 3


def test_case_15_key_id_hint_cannot_lend_trust(mirror: Mirror, signed: Path) -> None:
    payload = canonjson.dumps(payload_of(signed))
    other = signing_key(mirror, "other")
    pub_id = signing_key(mirror, "pub").public.key_id
    sig = other.sign(envelope.pae(envelope.MANIFEST_TYPE, payload))
    raw_envelope(signed, payload, sig, keyid=pub_id)  # claims to be pub, signed by other
    run = mirror("verify", signed, "--trust", "pub")
    assert run.exit_code == 3


# --- case 16 -------------------------------------------------------------------


def test_case_16_feed_signature_presented_as_manifest_is_exit_3(
    mirror: Mirror, signed: Path
) -> None:
    write_envelope(
        signed, canonjson.dumps(payload_of(signed)), signing_key(mirror), envelope.FEED_TYPE
    )
    run = mirror("verify", signed, "--trust", "pub")
    assert run.exit_code == 3 and "payload type" in run.stderr


def test_case_16_payload_type_swapped_after_signing_is_exit_3(mirror: Mirror, signed: Path) -> None:
    data = json.loads((signed / "manifest.json").read_bytes())
    payload = base64.b64decode(data["payload"])
    feed_sig = signing_key(mirror).sign(envelope.pae(envelope.FEED_TYPE, payload))
    raw_envelope(signed, payload, feed_sig, data["signatures"][0]["keyid"])
    assert mirror("verify", signed, "--trust", "pub").exit_code == 3


# --- case 17 -------------------------------------------------------------------


@pytest.mark.parametrize(
    "sig_text",
    [
        lambda good: base64.b64encode(base64.b64decode(good)[:63]).decode(),  # wrong length
        lambda good: good.rstrip("="),  # non-canonical base64 (padding dropped)
        lambda good: base64.b64encode(
            base64.b64decode(good)[:32] + (2**253).to_bytes(32, "little")
        ).decode(),  # S >= L
    ],
    ids=["wrong-length", "non-canonical-base64", "s-at-least-l"],
)
def test_case_17_bad_signature_encodings_never_verify(
    mirror: Mirror, signed: Path, sig_text
) -> None:
    doc = json.loads((signed / "manifest.json").read_bytes())
    doc["signatures"][0]["sig"] = sig_text(doc["signatures"][0]["sig"])
    (signed / "manifest.json").write_bytes(json.dumps(doc).encode())
    run = mirror("verify", signed, "--trust", "pub")
    assert run.exit_code in (2, 3) and "Traceback" not in run.stderr


# --- case 18 -------------------------------------------------------------------


def test_case_18_file_listed_twice_is_exit_2(mirror: Mirror, signed: Path) -> None:
    payload = payload_of(signed)
    payload["files"].append(dict(payload["files"][0]))
    write_envelope(signed, canonjson.dumps(payload), signing_key(mirror))
    run = mirror("verify", signed, "--trust", "pub")
    assert run.exit_code == 2 and "twice" in run.stderr


def test_case_18_two_signature_blocks_is_exit_2(mirror: Mirror, signed: Path) -> None:
    text = (signed / "manifest.json").read_text()
    start = text.index('"signatures"')
    block = text[start : text.rindex("]") + 1]
    (signed / "manifest.json").write_text(text.replace(block, block + "," + block, 1))
    assert mirror("verify", signed, "--trust", "pub").exit_code == 2


def test_case_18_manifest_listing_itself_is_exit_2() -> None:
    doc = {
        "format": "mirror-manifest/1",
        "created_at": "x",
        "publisher": {},
        "article": {},
        "capture": {},
        "files": [
            {"path": "manifest.json", "size": 1, "cid": "bafk", "sha256": "sha256:" + "0" * 64}
        ],
    }
    with pytest.raises(UsageError):
        Manifest.from_dict(doc)


def test_case_18_two_manifests_in_a_bundle_is_refused(mirror: Mirror, signed: Path) -> None:
    shutil.copy(signed / "manifest.json", signed / "MANIFEST.JSON")
    run = mirror("verify", signed, "--trust", "pub")
    assert run.exit_code in (2, 3)
    assert run.exit_code != 0


# --- case 19 -------------------------------------------------------------------


def test_case_19_missing_listed_file_is_exit_3(mirror: Mirror, signed: Path) -> None:
    (signed / "article.md").unlink()
    run = mirror("verify", signed, "--trust", "pub")
    assert run.exit_code == 3 and "missing" in run.stderr


def test_case_19_extra_unlisted_file_is_exit_3(mirror: Mirror, signed: Path) -> None:
    (signed / "extra.html").write_text("<script>alert(1)</script>")
    run = mirror("verify", signed, "--trust", "pub")
    assert run.exit_code == 3 and "does not list" in run.stderr


def test_case_19_wrong_size_in_manifest_is_exit_3(mirror: Mirror, signed: Path) -> None:
    payload = payload_of(signed)
    payload["files"][0]["size"] += 1
    write_envelope(signed, canonjson.dumps(payload), signing_key(mirror))
    assert mirror("verify", signed, "--trust", "pub").exit_code == 3


def test_case_19_unlisted_file_in_car_is_never_extracted(
    mirror: Mirror, signed: Path, tmp_path: Path
) -> None:
    (signed / "extra.txt").write_text("smuggled")
    car = tmp_path / "x.car"
    assert mirror("car", signed, "-o", car).exit_code == 0
    dest = tmp_path / "out"
    assert mirror("unpack", car, dest, "--trust", "pub").exit_code == 3
    assert not dest.exists()
