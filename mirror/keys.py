"""Ed25519 keys: generation, encryption at rest, loading, key ids, trust store.

Private keys are stored as a small JSON document (format "mirror-private-key/1",
see keys/README.md and docs/decisions/0001-private-key-encryption.md): the 32-byte
seed sealed with ChaCha20-Poly1305 under a key derived by scrypt from the user's
passphrase. The public key and KDF parameters are bound as associated data, so a
file whose header was edited does not decrypt.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from . import canonjson, store
from .clock import now_text
from .config import Home
from .errors import UsageError

KEY_FORMAT = "mirror-private-key/1"
TRUST_FORMAT = "mirror-trust/1"
PUBLIC_PREFIX = "ed25519:"
# scrypt cost: N=2^17, r=8 (128 MiB, ~0.3 s) — OWASP's recommended minimum for scrypt.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**17, 8, 1
_MAX_SCRYPT_N = 2**20
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_MAX_KEY_FILE = 64 * 1024

# Ed25519 edge cases (see docs/decisions/0003-ed25519-verification-policy.md):
# the field prime, the group order, and the y coordinates of small-order points.
_P = 2**255 - 19
_L = 2**252 + 27742317777372353535851937790883648493
_Y_ORDER8 = int.from_bytes(
    bytes.fromhex("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a"), "little"
) & ((1 << 255) - 1)
_SMALL_ORDER_Y = frozenset({0, 1, _P - 1, _Y_ORDER8, _P - _Y_ORDER8})


def b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def b64decode_strict(text: str, what: str) -> bytes:
    """Standard base64 that must be canonical (re-encodes to the same text)."""
    if not isinstance(text, str):
        raise UsageError(f"{what} must be a base64 string")
    try:
        data = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError) as exc:
        raise UsageError(f"{what} is not valid base64") from exc
    if b64encode(data) != text:
        raise UsageError(f"{what} is not canonical base64")
    return data


def validate_name(name: str, what: str = "key name") -> str:
    if not _NAME.match(name):
        raise UsageError(
            f"invalid {what} {name!r}: use letters, digits, '.', '_' or '-' (at most 64)"
        )
    return name


def _point_ok(encoded: bytes) -> bool:
    """A canonical encoding of a point that is not of small order."""
    y = int.from_bytes(encoded, "little") & ((1 << 255) - 1)
    return y < _P and y not in _SMALL_ORDER_Y


@dataclass(frozen=True, slots=True)
class PublicKey:
    raw: bytes

    @property
    def key_id(self) -> str:
        """A short hint naming the key: the first 16 hex digits of sha256(raw key)."""
        return hashlib.sha256(self.raw).hexdigest()[:16]

    @property
    def fingerprint(self) -> str:
        """The full sha256 of the key, grouped for reading aloud or comparing by eye."""
        digest = hashlib.sha256(self.raw).hexdigest()
        return " ".join(digest[i : i + 4] for i in range(0, 64, 4))

    def to_text(self) -> str:
        return PUBLIC_PREFIX + b64encode(self.raw)

    @classmethod
    def from_text(cls, text: str) -> PublicKey:
        text = text.strip()
        if not text.startswith(PUBLIC_PREFIX):
            raise UsageError(f"a public key looks like '{PUBLIC_PREFIX}<base64>'")
        raw = b64decode_strict(text[len(PUBLIC_PREFIX) :], "public key")
        if len(raw) != 32:
            raise UsageError("an Ed25519 public key is 32 bytes")
        if not _point_ok(raw):
            raise UsageError("public key is a small-order or non-canonical point")
        return cls(raw)

    def verify(self, signature: bytes, message: bytes) -> bool:
        """Strict Ed25519: canonical R and A, no small-order R or A, S < L."""
        if len(signature) != 64 or not _point_ok(self.raw) or not _point_ok(signature[:32]):
            return False
        if int.from_bytes(signature[32:], "little") >= _L:
            return False
        try:
            Ed25519PublicKey.from_public_bytes(self.raw).verify(signature, message)
        except (InvalidSignature, ValueError):
            return False
        return True


@dataclass(frozen=True, slots=True)
class SigningKey:
    name: str
    private: Ed25519PrivateKey

    @property
    def public(self) -> PublicKey:
        return PublicKey(self.private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))

    def sign(self, message: bytes) -> bytes:
        return self.private.sign(message)

    @property
    def seed(self) -> bytes:
        from cryptography.hazmat.primitives.serialization import NoEncryption, PrivateFormat

        return self.private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())


def _kdf(passphrase: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(passphrase.encode("utf-8"))


def _aad(header: dict[str, Any]) -> bytes:
    return canonjson.dumps(header)


def seal_private_key(seed: bytes, passphrase: str) -> bytes:
    """The key file bytes for `seed` encrypted under `passphrase`."""
    if not passphrase:
        raise UsageError("an empty passphrase is not allowed")
    public = PublicKey(Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes_raw())
    salt, nonce = os.urandom(16), os.urandom(12)
    header: dict[str, Any] = {
        "format": KEY_FORMAT,
        "public_key": public.to_text(),
        "kdf": {
            "name": "scrypt",
            "n": SCRYPT_N,
            "r": SCRYPT_R,
            "p": SCRYPT_P,
            "salt": b64encode(salt),
        },
        "cipher": {"name": "chacha20-poly1305", "nonce": b64encode(nonce)},
    }
    key = _kdf(passphrase, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    sealed = ChaCha20Poly1305(key).encrypt(nonce, seed, _aad(header))
    return canonjson.dumps({**header, "ciphertext": b64encode(sealed)}) + b"\n"


def open_private_key(data: bytes, passphrase: str, name: str) -> SigningKey:
    """Decrypt key file bytes; a wrong passphrase or any corruption is UsageError (exit 2)."""
    try:
        doc = canonjson.loads(data, max_size=_MAX_KEY_FILE, what=f"key file {name!r}")
        if doc.get("format") != KEY_FORMAT:
            raise UsageError(f"key file {name!r} has an unknown format")
        kdf, cipher = doc["kdf"], doc["cipher"]
        n, r, p = int(kdf["n"]), int(kdf["r"]), int(kdf["p"])
        if kdf["name"] != "scrypt" or cipher["name"] != "chacha20-poly1305":
            raise UsageError(f"key file {name!r} uses an unsupported KDF or cipher")
        if not (2 <= n <= _MAX_SCRYPT_N and n & (n - 1) == 0 and 1 <= r <= 32 and 1 <= p <= 16):
            raise UsageError(f"key file {name!r} has out-of-range KDF parameters")
        salt = b64decode_strict(kdf["salt"], "salt")
        nonce = b64decode_strict(cipher["nonce"], "nonce")
        sealed = b64decode_strict(doc["ciphertext"], "ciphertext")
        header = {k: v for k, v in doc.items() if k != "ciphertext"}
        expected_public = PublicKey.from_text(doc["public_key"])
    except (KeyError, TypeError, ValueError) as exc:
        raise UsageError(f"key file {name!r} is corrupt") from exc
    try:
        seed = ChaCha20Poly1305(_kdf(passphrase, salt, n, r, p)).decrypt(
            nonce, sealed, _aad(header)
        )
    except (InvalidTag, ValueError) as exc:
        raise UsageError(f"wrong passphrase for key {name!r}, or the key file is corrupt") from exc
    key = SigningKey(name, Ed25519PrivateKey.from_private_bytes(seed))
    if key.public != expected_public:
        raise UsageError(f"key file {name!r} is corrupt: public key does not match")
    return key


# --- the data directory's keys --------------------------------------------------


def key_path(home: Home, name: str) -> Path:
    return home.keys_dir / f"{validate_name(name)}.key"


def public_path(home: Home, name: str) -> Path:
    return home.keys_dir / f"{validate_name(name)}.pub"


def generate_key(home: Home, name: str, passphrase: str, *, force: bool = False) -> PublicKey:
    """Create key NAME; refuses to replace an existing one without force (exit 2)."""
    path = key_path(home, name)
    if path.is_symlink() or public_path(home, name).is_symlink():
        raise UsageError(f"refusing to write key {name!r} through a symlink")
    if path.exists() and not force:
        raise UsageError(f"key {name!r} already exists; use --force to replace it")
    seed = os.urandom(32)
    data = seal_private_key(seed, passphrase)
    public = PublicKey(Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes_raw())
    try:
        home.keys_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise store.storage_error(exc, home.keys_dir) from exc
    store.atomic_write(path, data, mode=0o600, label="key", overwrite=force)
    store.atomic_write(public_path(home, name), public.to_text().encode() + b"\n", label="key-pub")
    settings = load_settings(home)
    if "default_key" not in settings:  # the first key made becomes the default
        save_settings(home, {**settings, "default_key": name})
    return public


def list_keys(home: Home) -> list[str]:
    if not home.keys_dir.is_dir():
        return []
    return sorted(p.stem for p in home.keys_dir.glob("*.key") if not p.name.startswith("."))


def load_public(home: Home, name: str) -> PublicKey:
    path = public_path(home, name)
    if not path.exists():
        raise UsageError(f"no key named {name!r} in {home.root} (see `mirror keygen`)")
    return PublicKey.from_text(
        store.read_bytes(path, limit=1024, what="public key").decode("ascii")
    )


def own_keys(home: Home) -> list[TrustedKey]:
    """The keys held in this data directory, as trusted keys named by their key names
    (the one answer to "which keys are mine"); an unreadable .pub is skipped."""
    out: list[TrustedKey] = []
    for name in list_keys(home):
        try:
            out.append(TrustedKey(name, load_public(home, name), ""))
        except UsageError:
            continue
    return out


def load_signing_key(home: Home, name: str | None, passphrase: str) -> SigningKey:
    name = name or default_key_name(home)
    path = key_path(home, name)
    if path.is_symlink():
        raise UsageError(f"refusing to read key {name!r} through a symlink")
    if not path.exists():
        raise UsageError(f"no key named {name!r} in {home.root} (see `mirror keygen`)")
    return open_private_key(
        store.read_bytes(path, limit=_MAX_KEY_FILE, what="key file"), passphrase, name
    )


def default_key_name(home: Home) -> str:
    settings = load_settings(home)
    name = settings.get("default_key")
    if isinstance(name, str):
        return name
    keys = list_keys(home)
    if len(keys) == 1:
        return keys[0]
    raise UsageError("no default signing key: run `mirror keygen` or pass --key-name")


def load_settings(home: Home) -> dict[str, Any]:
    if not home.settings_file.exists():
        return {}
    return canonjson.loads(
        store.read_bytes(home.settings_file, limit=1 << 20, what="settings"),
        max_size=1 << 20,
        what="settings.json",
    )


def save_settings(home: Home, settings: dict[str, Any]) -> None:
    store.atomic_write(home.settings_file, canonjson.dumps(settings) + b"\n", label="settings")


# --- trust store ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TrustedKey:
    name: str
    key: PublicKey
    added: str


def parse_key_argument(value: str) -> PublicKey:
    """KEY on the command line: the 'ed25519:...' line itself, or a file holding it."""
    if value.strip().startswith(PUBLIC_PREFIX):
        return PublicKey.from_text(value)
    path = Path(value)
    if path.is_file():
        text = store.read_bytes(path, limit=4096, what="public key file").decode("utf-8", "replace")
        return PublicKey.from_text(text.strip().splitlines()[0] if text.strip() else "")
    raise UsageError(f"KEY must be '{PUBLIC_PREFIX}<base64>' or a file holding it: {value!r}")


def load_trust(home: Home) -> dict[str, TrustedKey]:
    if not home.trust_file.exists():
        return {}
    doc = canonjson.loads(
        store.read_bytes(home.trust_file, limit=4 << 20, what="trust store"),
        max_size=4 << 20,
        what="trust.json",
    )
    try:
        return {
            name: TrustedKey(name, PublicKey.from_text(entry["public_key"]), entry.get("added", ""))
            for name, entry in doc["keys"].items()
        }
    except (KeyError, TypeError, AttributeError) as exc:
        raise UsageError(f"trust store {home.trust_file} is corrupt") from exc


def _save_trust(home: Home, trusted: dict[str, TrustedKey]) -> None:
    doc = {
        "format": TRUST_FORMAT,
        "keys": {
            t.name: {"public_key": t.key.to_text(), "key_id": t.key.key_id, "added": t.added}
            for t in sorted(trusted.values(), key=lambda t: t.name)
        },
    }
    store.atomic_write(home.trust_file, canonjson.dumps(doc) + b"\n", label="trust")


def trust_add(home: Home, name: str, key: PublicKey) -> TrustedKey:
    validate_name(name, "trust name")
    trusted = load_trust(home)
    if name in trusted and trusted[name].key != key:
        raise UsageError(f"{name!r} is already trusted with another key; remove it first")
    entry = trusted.get(name) or TrustedKey(name, key, now_text())
    trusted[name] = entry
    _save_trust(home, trusted)
    return entry


def trust_remove(home: Home, name: str) -> None:
    trusted = load_trust(home)
    if name not in trusted:
        raise UsageError(f"no trusted key named {name!r}")
    del trusted[name]
    _save_trust(home, trusted)


def resolve_trust(home: Home, trust_name: str | None, key_text: str | None) -> list[TrustedKey]:
    """The keys a verification may accept: one trusted name, or an explicit key."""
    if bool(trust_name) == bool(key_text):
        raise UsageError("give exactly one of --trust NAME or --key KEY")
    if key_text:
        key = parse_key_argument(key_text)
        return [TrustedKey(f"key {key.key_id}", key, "")]
    trusted = load_trust(home)
    assert trust_name is not None
    if trust_name not in trusted:
        raise UsageError(f"no trusted key named {trust_name!r} (see `mirror trust add`)")
    return [trusted[trust_name]]
