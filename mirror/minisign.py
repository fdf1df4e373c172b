"""Detached signatures the stock `minisign` tool verifies (`minisign -Vm FILE -P KEY`).

Format facts from the minisign documentation (https://jedisct1.github.io/minisign/):
a public key is base64("Ed" || key id (8 bytes) || Ed25519 public key (32 bytes)); a
signature file is four lines:

    untrusted comment: <text>
    base64("ED" || key id || Ed25519 signature over BLAKE2b-512(file))
    trusted comment: <text>
    base64(Ed25519 signature over (the signature above || trusted comment text))

"ED" is the prehashed variant, so a large file is hashed once as a stream. The key
id is the first 8 bytes of sha256(public key) — the same bytes as our 16-hex-digit
key id (PublicKey.key_id). The same Ed25519 key signs manifests and these files; the
minisign messages cannot be mistaken for a DSSE PAE (which starts with "DSSEv1").
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass
from pathlib import Path

from . import keys as keys_mod
from . import store
from .config import Home
from .errors import StorageError, UsageError, VerificationError
from .keys import PublicKey, SigningKey

PREHASHED = b"ED"
KEY_ALG = b"Ed"
SUFFIX = ".minisig"
MAX_COMMENT = 1000  # minisign reads lines of at most 1024 bytes
_READ_CHUNK = 1 << 20


def key_id(public: PublicKey) -> bytes:
    """8 bytes: the first 8 of sha256(raw public key)."""
    return hashlib.sha256(public.raw).digest()[:8]


def key_id_text(public: PublicKey) -> str:
    """The key id as `minisign` prints it (the 8 bytes read as a little-endian uint64)."""
    return key_id(public)[::-1].hex().upper()


def public_key_text(public: PublicKey) -> str:
    """The base64 string `minisign -P` takes."""
    return base64.b64encode(KEY_ALG + key_id(public) + public.raw).decode("ascii")


def verify_command(public: PublicKey, file: str = "FILE") -> str:
    return f"minisign -Vm {file} -P {public_key_text(public)}"


def file_digest(path: Path) -> bytes:
    """BLAKE2b-512 of a file, read as a stream."""
    digest = hashlib.blake2b(digest_size=64)
    try:
        with open(path, "rb") as fh:
            while chunk := fh.read(_READ_CHUNK):
                digest.update(chunk)
    except OSError as exc:
        raise StorageError(f"cannot read {path}: {exc.strerror or exc}") from exc
    return digest.digest()


def _one_line(text: str, what: str) -> str:
    if "\n" in text or "\r" in text or len(text.encode("utf-8")) > MAX_COMMENT:
        raise UsageError(f"minisign {what} must be one line of at most {MAX_COMMENT} bytes")
    return text


def signature_bytes(digest: bytes, key: SigningKey, trusted_comment: str, untrusted: str) -> bytes:
    """The .minisig file for a file whose BLAKE2b-512 is `digest`."""
    trusted = _one_line(trusted_comment, "trusted comment").encode("utf-8")
    signature = key.sign(digest)
    global_sig = key.sign(signature + trusted)
    line = base64.b64encode(PREHASHED + key_id(key.public) + signature)
    return (
        b"untrusted comment: " + _one_line(untrusted, "comment").encode("utf-8") + b"\n"
        + line + b"\n"
        + b"trusted comment: " + trusted + b"\n"
        + base64.b64encode(global_sig) + b"\n"
    )  # fmt: skip


def trusted_comment(root_cid: str, captured_at: str, file_name: str) -> str:
    return f"mirror root:{root_cid} captured:{captured_at} file:{file_name}"


def sig_path(file: Path) -> Path:
    """Where FILE's signature lives: FILE.minisig beside it."""
    return file.with_name(file.name + SUFFIX)


def write_minisig(file: Path, key: SigningKey, *, root_cid: str, captured_at: str) -> Path:
    """Write FILE.minisig next to FILE (atomically); returns its path."""
    file = Path(file)
    comment = trusted_comment(root_cid, captured_at, file.name.replace("\t", " "))
    data = signature_bytes(
        file_digest(file), key, comment, f"mirror signature from key {key.public.key_id}"
    )
    target = sig_path(file)
    store.atomic_write(target, data, label="minisig")
    return target


def own_key_name(home: Home, public: PublicKey) -> str | None:
    """The name of the key held in this data directory whose public key is `public`."""
    for name in keys_mod.list_keys(home):
        try:
            if keys_mod.load_public(home, name) == public:
                return name
        except UsageError:
            continue
    return None


def write_minisig_if_own_key(
    home: Home, file: Path, root_cid: str, captured_at: str, signing_key: SigningKey | None
) -> Path | None:
    """For publisher-side commands: write FILE.minisig when `signing_key` (the key that
    signed the bundle) is held in this data directory; otherwise do nothing."""
    if signing_key is None or own_key_name(home, signing_key.public) is None:
        return None
    return write_minisig(file, signing_key, root_cid=root_cid, captured_at=captured_at)


@dataclass(frozen=True, slots=True)
class MinisigVerdict:
    key_id: str
    trusted_comment: str


def verify_minisig(file: Path, sig_text: bytes, public: PublicKey) -> MinisigVerdict:
    """Check a .minisig as `minisign -V` does (prehashed only); for tests and tooling."""
    try:
        lines = sig_text.decode("utf-8").splitlines()
        if len(lines) < 4 or not lines[2].startswith("trusted comment: "):
            raise UsageError("not a minisign signature file")
        blob = base64.b64decode(lines[1], validate=True)
        global_sig = base64.b64decode(lines[3], validate=True)
    except (UnicodeDecodeError, binascii.Error, ValueError) as exc:
        raise UsageError("not a minisign signature file") from exc
    if len(blob) != 74 or blob[:2] != PREHASHED:
        raise UsageError("only prehashed (ED) minisign signatures are supported")
    if blob[2:10] != key_id(public):
        raise VerificationError("minisign signature was made by another key")
    comment = lines[2][len("trusted comment: ") :]
    if not public.verify(blob[10:], file_digest(file)):
        raise VerificationError(f"minisign signature does not match {Path(file).name}")
    if not public.verify(global_sig, blob[10:] + comment.encode("utf-8")):
        raise VerificationError("minisign trusted comment was altered")
    return MinisigVerdict(key_id_text(public), comment)


def own_key_by_id(home: Home, key_id_hex: str) -> str | None:
    """The name of the key held here whose 16-hex-digit key id is `key_id_hex`."""
    for name in keys_mod.list_keys(home):
        try:
            if keys_mod.load_public(home, name).key_id == key_id_hex:
                return name
        except UsageError:
            continue
    return None
