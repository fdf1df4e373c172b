"""Key files, public key text, key ids, the trust store and the Ed25519 policy."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from mirror import keys
from mirror.config import Home
from mirror.errors import UsageError

SPECCHECK = (
    Path(__file__).resolve().parents[1] / "fixtures" / "hostile" / "ed25519-speccheck-cases.json"
)

# Our decision per case of ed25519-speccheck (docs/decisions/0003-ed25519-verification-policy.md):
# only case 3 (valid both cofactored and cofactorless, canonical encodings) is accepted;
# 4-5 need cofactored verification, which we (like OpenSSL) do not do.
SPECCHECK_ACCEPTED = {3}


def test_seal_and_open_round_trip() -> None:
    data = keys.seal_private_key(b"\x01" * 32, "pw")
    key = keys.open_private_key(data, "pw", "k")
    assert key.seed == b"\x01" * 32
    doc = json.loads(data)
    assert doc["kdf"]["name"] == "scrypt" and doc["kdf"]["n"] >= 2**17
    assert b"\x01" * 32 not in data


def test_wrong_passphrase_is_usage_error() -> None:
    data = keys.seal_private_key(b"\x02" * 32, "right")
    with pytest.raises(UsageError, match="wrong passphrase"):
        keys.open_private_key(data, "wrong", "k")


def test_edited_header_does_not_decrypt() -> None:
    doc = json.loads(keys.seal_private_key(b"\x03" * 32, "pw"))
    doc["kdf"]["r"] = 4  # bound as associated data
    with pytest.raises(UsageError):
        keys.open_private_key(json.dumps(doc).encode(), "pw", "k")


def test_generate_writes_0600_and_refuses_overwrite(tmp_path: Path) -> None:
    home = Home(tmp_path)
    public = keys.generate_key(home, "pub", "pw")
    path = keys.key_path(home, "pub")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    before = path.read_bytes()
    with pytest.raises(UsageError, match="already exists"):
        keys.generate_key(home, "pub", "pw")
    assert path.read_bytes() == before
    assert keys.load_public(home, "pub") == public
    assert keys.default_key_name(home) == "pub"


def test_public_key_text_round_trip_and_strictness() -> None:
    key = keys.open_private_key(keys.seal_private_key(b"\x04" * 32, "pw"), "pw", "k").public
    assert keys.PublicKey.from_text(key.to_text()) == key
    with pytest.raises(UsageError):
        keys.PublicKey.from_text("ed25519:" + key.to_text()[8:].rstrip("="))  # padding missing
    with pytest.raises(UsageError):
        keys.PublicKey.from_text("rsa:abcd")
    assert len(key.key_id) == 16


@pytest.mark.parametrize("name", ["", "../x", "a/b", ".hidden", "x" * 65, "a b"])
def test_bad_key_names(name: str) -> None:
    with pytest.raises(UsageError):
        keys.validate_name(name)


def test_case_17_speccheck_vectors_follow_the_documented_policy() -> None:
    cases = json.loads(SPECCHECK.read_text())
    assert len(cases) == 12
    for number, case in enumerate(cases):
        public = keys.PublicKey(bytes.fromhex(case["pub_key"]))
        accepted = public.verify(bytes.fromhex(case["signature"]), bytes.fromhex(case["message"]))
        assert accepted == (number in SPECCHECK_ACCEPTED), f"speccheck case {number}"


def test_case_17_wrong_length_and_high_s_signatures_are_refused() -> None:
    signer = keys.open_private_key(keys.seal_private_key(b"\x05" * 32, "pw"), "pw", "k")
    sig = signer.sign(b"m")
    assert signer.public.verify(sig, b"m")
    assert not signer.public.verify(sig[:63], b"m")
    assert not signer.public.verify(sig + b"\0", b"m")
    s = int.from_bytes(sig[32:], "little") + keys._L  # S + L is the same scalar, non-canonical
    if s < 2**256:
        assert not signer.public.verify(sig[:32] + s.to_bytes(32, "little"), b"m")


def test_trust_store_add_list_remove(tmp_path: Path) -> None:
    home = Home(tmp_path)
    key = keys.open_private_key(keys.seal_private_key(b"\x06" * 32, "pw"), "pw", "k").public
    keys.trust_add(home, "paper", key)
    assert keys.load_trust(home)["paper"].key == key
    other = keys.open_private_key(keys.seal_private_key(b"\x07" * 32, "pw"), "pw", "k").public
    with pytest.raises(UsageError, match="another key"):
        keys.trust_add(home, "paper", other)
    keys.trust_remove(home, "paper")
    assert keys.load_trust(home) == {}
    with pytest.raises(UsageError):
        keys.trust_remove(home, "paper")
