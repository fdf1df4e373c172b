"""The publisher's own identity operations: make, rotate, revoke and co-sign versions,
and load the Signer that signs bundles and feeds under the current version.

Versions are kept as identity/vN.json in the data directory (identity_state.py reads
them); a next version waiting for co-signatures is identity/pending.json.
Decision: docs/decisions/0006-publisher-identity.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from . import envelope, keys, store
from .clock import format_time, utc_now
from .config import Home
from .envelope import Envelope
from .errors import LimitExceeded, UsageError, VerificationError
from .identity import (
    DEFAULT_TTL,
    MAX_KEYS,
    Chain,
    Identity,
    Link,
    parse_link,
    signers_of,
    verify_link,
)
from .identity_state import home_chain, identity_dir, load_envelope
from .keys import PublicKey, SigningKey
from .signer import Signer

PENDING_NAME = "pending.json"  # a next version waiting for co-signatures


def require_chain(home: Home) -> Chain:
    chain = home_chain(home)
    if chain is None:
        raise UsageError(f"{home.root} has no publisher identity (see `mirror identity init`)")
    return chain


def resolve_key(home: Home, value: str) -> PublicKey:
    """KEY on the command line: a key name held here, 'ed25519:...', or a file holding it."""
    try:
        local = keys.public_path(home, value).exists()
    except UsageError:  # not a valid key name: a key line or a file
        local = False
    return keys.load_public(home, value) if local else keys.parse_key_argument(value)


def held_keys(
    home: Home, wanted: Iterable[PublicKey], passphrase: str, limit: int = MAX_KEYS * 2
) -> list[SigningKey]:
    """The private keys held in this data directory among `wanted`, default key first
    (at most `limit`: each one costs a deliberately slow passphrase derivation)."""
    want = set(wanted)
    names = keys.list_keys(home)
    default = keys.load_settings(home).get("default_key")
    names.sort(key=lambda n: n != default)
    out: list[SigningKey] = []
    for name in names:
        if len(out) < limit and keys.load_public(home, name) in want:
            out.append(keys.load_signing_key(home, name, passphrase))
    return out


def _store_version(home: Home, env: Envelope, version: int) -> Path:
    path = identity_dir(home) / f"v{version}.json"
    store.atomic_write(path, env.to_bytes(), label="identity", overwrite=False)
    return path


def init(
    home: Home,
    key: SigningKey,
    *,
    name: str,
    ttl: timedelta = DEFAULT_TTL,
    now: datetime | None = None,
) -> Link:
    """Version 1: the key alone, threshold 1."""
    if home_chain(home) is not None:
        raise UsageError(f"{home.root} already has an identity (use `mirror identity rotate`)")
    doc = Identity(
        keys.validate_name(name, "identity name"),
        1,
        format_time((now or utc_now()) + ttl),
        1,
        (key.public,),
    )
    env = envelope.sign(envelope.IDENTITY_TYPE, doc.to_bytes(), [key])
    link = verify_link(None, env, frozenset())
    _store_version(home, env, 1)
    return link


def next_version(
    chain: Chain,
    *,
    add: Sequence[PublicKey] = (),
    remove: Sequence[PublicKey] = (),
    revoke: Sequence[PublicKey] = (),
    threshold: int | None = None,
    ttl: timedelta = DEFAULT_TTL,
    now: datetime | None = None,
) -> Identity:
    """The next identity document (unsigned): keys changed, revocations added, expiry renewed."""
    cur = chain.current
    current_keys = list(cur.keys)
    for key in remove:
        if key not in current_keys:
            raise UsageError(f"key {key.key_id} is not in identity version {cur.version}")
    for key in revoke:  # a key rotated out earlier may be revoked too (e.g. stolen later)
        if key not in chain.all_keys():
            raise UsageError(f"key {key.key_id} was never a key of identity {cur.name!r}")
    revoked = list(cur.revoked)
    for key in revoke:
        if key in chain.revoked:
            raise UsageError(f"key {key.key_id} is already revoked")
        revoked.append(key)
    new_keys = [k for k in current_keys if k not in remove and k not in revoke]
    for key in add:
        if key in chain.revoked or key in revoke:
            raise UsageError(f"key {key.key_id} was revoked and cannot be added back")
        if key not in new_keys:
            new_keys.append(key)
    if not new_keys:
        raise UsageError("an identity needs at least one key")
    if len(new_keys) > MAX_KEYS:
        raise UsageError(f"an identity holds at most {MAX_KEYS} keys")
    wanted = cur.threshold if threshold is None else threshold
    if not 1 <= wanted <= len(new_keys):
        raise UsageError(
            f"threshold {wanted} is not between 1 and {len(new_keys)} (the number of keys); "
            "pass --threshold"
        )
    return Identity(
        cur.name,
        cur.version + 1,
        format_time((now or utc_now()) + ttl),
        wanted,
        tuple(new_keys),
        tuple(revoked),
        chain.links[-1].digest,
        dict(cur.extra),
    )


@dataclass(frozen=True, slots=True)
class SignStatus:
    name: str
    version: int
    path: Path
    complete: bool  # stored as the identity's new current version
    old_signed: int  # valid signatures by the previous version's unrevoked keys
    old_threshold: int
    new_signed: int
    new_threshold: int


def _status(chain: Chain | None, env: Envelope, path: Path, complete: bool) -> SignStatus:
    doc = parse_link(env)
    old_signed = old_threshold = 0
    if chain is not None and doc.version >= 2 and doc.version - 1 <= len(chain.links):
        prev = chain.version(doc.version - 1)
        revoked = chain.revoked | set(doc.revoked)
        old_signed = len(signers_of(env, [k for k in prev.keys if k not in revoked]))
        old_threshold = prev.threshold
    return SignStatus(
        doc.name,
        doc.version,
        path,
        complete,
        old_signed,
        old_threshold,
        len(signers_of(env, doc.keys)),
        doc.threshold,
    )


def _try_adopt(home: Home, chain: Chain, env: Envelope) -> bool:
    """Store `env` as the next version if it is one and is fully signed."""
    doc = parse_link(env)
    if doc.version != chain.current.version + 1 or doc.name != chain.name:
        return False
    try:
        verify_link(chain.links[-1], env, chain.revoked)
    except VerificationError:
        return False
    _store_version(home, env, doc.version)
    return True


def propose(home: Home, doc: Identity, passphrase: str) -> SignStatus:
    """Sign the next version with every key held here (old or new, not revoked); store it
    when both thresholds are met, else write identity/pending.json for co-signers."""
    chain = require_chain(home)
    cur = chain.current
    if doc.version != cur.version + 1:
        raise UsageError(f"identity version {doc.version} does not follow {cur.version}")
    revoked = chain.revoked | set(doc.revoked)
    signers = held_keys(home, [k for k in (*cur.keys, *doc.keys) if k not in revoked], passphrase)
    if not signers:
        raise UsageError("this data directory holds none of the identity's keys")
    env = envelope.sign(envelope.IDENTITY_TYPE, doc.to_bytes(), signers)
    if _try_adopt(home, chain, env):
        return _status(chain, env, identity_dir(home) / f"v{doc.version}.json", True)
    pending = identity_dir(home) / PENDING_NAME
    store.atomic_write(pending, env.to_bytes(), label="identity-pending")
    return _status(chain, env, pending, False)


def cosign(home: Home, path: Path, passphrase: str, key_names: Sequence[str] = ()) -> SignStatus:
    """Add this data directory's signatures to a pending identity version file (rewritten
    atomically); when it extends this directory's identity and is now complete, store it."""
    env = load_envelope(path, "identity file")
    doc = parse_link(env)
    chain = home_chain(home)
    if key_names:
        signers = [keys.load_signing_key(home, n, passphrase) for n in key_names]
    else:
        candidates = list(doc.keys)
        if chain is not None and 2 <= doc.version <= len(chain.links) + 1:
            candidates += chain.version(doc.version - 1).keys
        signers = held_keys(home, [k for k in candidates if k not in doc.revoked], passphrase)
    if not signers:
        raise UsageError("this data directory holds none of the keys that sign this identity")
    for key in signers:
        if key.public in doc.revoked or (chain is not None and key.public in chain.revoked):
            raise UsageError(f"key {key.name!r} is revoked and cannot sign")
        env = envelope.add_signature(env, key)
    if len(env.signatures) > envelope.MAX_SIGNATURES:
        raise LimitExceeded(
            f"an identity version carries at most {envelope.MAX_SIGNATURES} signatures"
        )
    store.atomic_write(path, env.to_bytes(), label="identity-pending")
    if chain is not None and _try_adopt(home, chain, env):
        if path.resolve() == (identity_dir(home) / PENDING_NAME).resolve():
            path.unlink(missing_ok=True)
        return _status(chain, env, identity_dir(home) / f"v{doc.version}.json", True)
    return _status(chain, env, path, False)


def pending(home: Home) -> Path | None:
    path = identity_dir(home) / PENDING_NAME
    return path if path.exists() else None


# -- signing bundles under the identity ------------------------------------------------------


def load_signer(
    home: Home, passphrase: str, key_name: str | None = None, now: datetime | None = None
) -> Signer:
    """The Signer of this data directory: with an identity, a threshold of its current
    keys held here (KEY_NAME's first) under the current version; without one, the
    named or default key alone. Each key is unlocked once."""
    chain = home_chain(home)
    if chain is None:
        return Signer.single(keys.load_signing_key(home, key_name, passphrase))
    cur = chain.current
    if cur.expired(now):
        raise UsageError(
            f"identity {cur.name!r} version {cur.version} expired at {cur.expires}; "
            "renew it with `mirror identity rotate`"
        )
    usable = [k for k in cur.keys if k not in chain.revoked]
    held: list[SigningKey] = []
    if key_name:
        first = keys.load_signing_key(home, key_name, passphrase)
        if first.public not in usable:
            raise UsageError(f"key {key_name!r} is not a current key of identity {cur.name!r}")
        held = [first]
    rest = [k for k in usable if not held or k != held[0].public]
    held += held_keys(home, rest, passphrase, limit=cur.threshold - len(held))
    if len(held) < cur.threshold:
        raise UsageError(
            f"identity {cur.name!r} version {cur.version} needs {cur.threshold} signatures; "
            f"this data directory holds {len(held)} of its keys"
        )
    return Signer(tuple(held[: cur.threshold]), cur.version, chain.to_bytes())
