"""Publisher identity, the pure model: a signed, versioned set of keys that readers
follow across rotations.

An identity document (payload type envelope.IDENTITY_TYPE) names the publisher's
signing keys, how many of them must sign (threshold), the keys revoked so far, an
expiry, a version and the sha256 of the previous version's payload. Version 1 is
signed by a threshold of its own keys; version N+1 by a threshold of version N's
keys (revoked ones not counted) AND a threshold of its own keys, as TUF rotates its
root role. Every bundle carries the chain from version 1 to the version it was
signed under (identity.json). Nothing here reads or writes files: what a reader
remembers is identity_state.py, the publisher's own operations are publisher.py.
Decision: docs/decisions/0006-publisher-identity.md.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from . import canonjson, envelope, keys
from .canonjson import HostileJSON
from .clock import parse_time, sha256_tag, utc_now
from .envelope import Envelope
from .errors import LimitExceeded, UsageError, VerificationError
from .keys import PublicKey, TrustedKey

FORMAT = "mirror-identity/1"
CHAIN_FORMAT = "mirror-identity-chain/1"
CHAIN_NAME = "identity.json"  # the chain inside a bundle
MAX_KEYS = 8  # old + new keys of a rotation must fit envelope.MAX_SIGNATURES
MAX_REVOKED = 256
MAX_VERSIONS = 1000
MAX_DOCUMENT = 64 << 10
MAX_CHAIN = 8 << 20
DEFAULT_TTL = timedelta(days=365)
_SHA256 = re.compile(r"^sha256:[0-9a-f]{64}$")
_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
_KNOWN = {"format", "name", "version", "expires", "threshold", "keys", "revoked", "previous"}


class IdentityInvalid(VerificationError):
    """A broken, forked or forged identity chain (exit 3)."""

    reason = "identity-invalid"


# -- the document ------------------------------------------------------------------------


def _key_list(value: Any, what: str, limit: int) -> tuple[PublicKey, ...]:
    if not isinstance(value, list) or len(value) > limit:
        raise UsageError(f"identity {what} must be a list of at most {limit} keys")
    out: list[PublicKey] = []
    for item in value:
        if not isinstance(item, str):
            raise UsageError(f"identity {what} must hold 'ed25519:...' strings")
        key = PublicKey.from_text(item)
        if key in out:
            raise UsageError(f"identity {what} lists key {key.key_id} twice")
        out.append(key)
    return tuple(out)


@dataclass(frozen=True, slots=True)
class Identity:
    name: str
    version: int
    expires: str
    threshold: int
    keys: tuple[PublicKey, ...]
    revoked: tuple[PublicKey, ...] = ()
    previous: str | None = None  # "sha256:<hex>" of the previous version's payload
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.extra,
            "format": FORMAT,
            "name": self.name,
            "version": self.version,
            "expires": self.expires,
            "threshold": self.threshold,
            "keys": [k.to_text() for k in self.keys],
            "revoked": [k.to_text() for k in self.revoked],
            "previous": self.previous,
        }

    def to_bytes(self) -> bytes:
        """The signed bytes (canonical JSON)."""
        return canonjson.dumps(self.to_dict())

    def expired(self, now: datetime | None = None) -> bool:
        return parse_time(self.expires) <= (now or utc_now())

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Identity:
        if d.get("format") != FORMAT:
            raise UsageError(f"identity format is {d.get('format')!r}, expected {FORMAT!r}")
        name, version, expires = d.get("name"), d.get("version"), d.get("expires")
        threshold, previous = d.get("threshold"), d.get("previous")
        if not isinstance(name, str):
            raise UsageError("identity name must be a string")
        keys.validate_name(name, "identity name")
        if (
            not isinstance(version, int)
            or isinstance(version, bool)
            or not 1 <= version <= MAX_VERSIONS
        ):
            raise UsageError(f"identity version must be an integer from 1 to {MAX_VERSIONS}")
        if not isinstance(expires, str) or not _TIME.match(expires):
            raise UsageError("identity expires must be a UTC time like 2026-01-31T12:00:00Z")
        try:
            parse_time(expires)
        except ValueError as exc:
            raise UsageError(f"identity expires is not a valid time: {expires!r}") from exc
        keys_ = _key_list(d.get("keys"), "keys", MAX_KEYS)
        revoked = _key_list(d.get("revoked", []), "revoked", MAX_REVOKED)
        if not keys_:
            raise UsageError("identity must list at least one key")
        if not isinstance(threshold, int) or isinstance(threshold, bool):
            raise UsageError("identity threshold must be an integer")
        if not 1 <= threshold <= len(keys_):
            raise UsageError(f"identity threshold {threshold} is not between 1 and {len(keys_)}")
        if set(keys_) & set(revoked):
            raise UsageError("identity lists a key as both current and revoked")
        if (version == 1) != (previous is None):
            raise UsageError("identity previous must be null for version 1 and a hash after it")
        if previous is not None and (not isinstance(previous, str) or not _SHA256.match(previous)):
            raise UsageError("identity previous must be 'sha256:<64 hex>'")
        return cls(
            name,
            version,
            expires,
            threshold,
            keys_,
            revoked,
            previous,
            {k: v for k, v in d.items() if k not in _KNOWN},
        )

    @classmethod
    def from_bytes(cls, payload: bytes) -> Identity:
        return cls.from_dict(canonjson.loads(payload, max_size=MAX_DOCUMENT, what="identity"))


@dataclass(frozen=True, slots=True)
class Link:
    """One version of an identity, verified as part of a chain."""

    identity: Identity
    envelope: Envelope
    digest: str  # sha256 of the payload: what the next version's `previous` names


@dataclass(frozen=True, slots=True)
class Chain:
    """A verified chain from version 1 to `current`."""

    links: tuple[Link, ...]

    @property
    def current(self) -> Identity:
        return self.links[-1].identity

    @property
    def name(self) -> str:
        return self.links[0].identity.name

    def version(self, number: int) -> Identity:
        return self.links[number - 1].identity

    @property
    def revoked(self) -> frozenset[PublicKey]:
        """Every key revoked by any version: a later version cannot un-revoke by omission."""
        return frozenset(k for link in self.links for k in link.identity.revoked)

    def revoked_in(self, key: PublicKey) -> int | None:
        return next((n.identity.version for n in self.links if key in n.identity.revoked), None)

    def all_keys(self) -> list[PublicKey]:
        seen: list[PublicKey] = []
        for link in self.links:
            seen.extend(k for k in link.identity.keys if k not in seen)
        return seen

    def is_prefix_of(self, other: Chain) -> bool:
        return len(self.links) <= len(other.links) and all(
            a.digest == b.digest for a, b in zip(self.links, other.links, strict=False)
        )

    def envelopes(self) -> list[Envelope]:
        return [link.envelope for link in self.links]

    def to_bytes(self) -> bytes:
        """identity.json: the chain as one canonical JSON document."""
        return chain_bytes(self.envelopes())


def chain_bytes(envelopes: Sequence[Envelope]) -> bytes:
    items = [canonjson.loads(e.to_bytes().rstrip(b"\n"), max_size=MAX_CHAIN) for e in envelopes]
    return canonjson.dumps({"format": CHAIN_FORMAT, "versions": items}) + b"\n"


def parse_chain(data: bytes, what: str = CHAIN_NAME) -> list[Envelope]:
    """The envelopes of an identity.json; damage is VerificationError, hostile JSON exit 2."""
    try:
        doc = canonjson.loads(data.rstrip(b"\n"), max_size=MAX_CHAIN, what=what)
        return parse_chain_obj(doc, what)
    except (HostileJSON, LimitExceeded):
        raise
    except UsageError as exc:
        raise IdentityInvalid(f"{what} is damaged: {exc.message}") from exc


def parse_chain_obj(doc: dict[str, Any], what: str = CHAIN_NAME) -> list[Envelope]:
    """The envelopes of a chain object (as in identity.json, or embedded in a feed)."""
    if doc.get("format") != CHAIN_FORMAT or not isinstance(doc.get("versions"), list):
        raise UsageError(f"{what} is not an identity chain ({CHAIN_FORMAT})")
    versions = doc["versions"]
    if not 1 <= len(versions) <= MAX_VERSIONS:
        raise LimitExceeded(f"{what} must hold 1 to {MAX_VERSIONS} identity versions")
    out = []
    for item in versions:
        if not isinstance(item, dict):
            raise UsageError(f"{what}: each version is a signed envelope object")
        out.append(Envelope.from_bytes(canonjson.dumps(item), max_size=MAX_DOCUMENT, what=what))
    return out


# -- walking a chain -------------------------------------------------------------------------


def signers_of(env: Envelope, candidates: Iterable[PublicKey]) -> set[PublicKey]:
    """Distinct candidate keys with a valid signature on `env` (duplicates count once)."""
    message = envelope.pae(env.payload_type, env.payload)
    found: set[PublicKey] = set()
    pool = list(dict.fromkeys(candidates))
    for signature in env.signatures:
        for key in pool:
            if key not in found and key.verify(signature.sig, message):
                found.add(key)
                break
    return found


def parse_link(env: Envelope) -> Identity:
    if env.payload_type != envelope.IDENTITY_TYPE:
        raise IdentityInvalid(
            f"identity: payload type is {env.payload_type!r}, expected {envelope.IDENTITY_TYPE!r}"
        )
    try:
        return Identity.from_bytes(env.payload)
    except (HostileJSON, LimitExceeded):
        raise
    except UsageError as exc:
        raise IdentityInvalid(f"identity version is damaged: {exc.message}") from exc


def verify_link(previous: Link | None, env: Envelope, revoked_before: frozenset[PublicKey]) -> Link:
    """Check one version against the one before it (None for version 1)."""
    doc = parse_link(env)
    digest = sha256_tag(env.payload)
    label = f"identity {doc.name!r} version {doc.version}"
    if previous is None:
        if doc.version != 1:
            raise IdentityInvalid(f"{label}: the chain must start at version 1")
    else:
        prev = previous.identity
        if doc.version != prev.version + 1:
            raise IdentityInvalid(
                f"{label} follows version {prev.version}: versions must go up by one"
            )
        if doc.name != prev.name:
            raise IdentityInvalid(f"{label}: name differs from version {prev.version}")
        if doc.previous != previous.digest:
            raise IdentityInvalid(
                f"{label}: its previous hash does not match version {prev.version}"
            )
    revoked = revoked_before | set(doc.revoked)
    reused = [k.key_id for k in doc.keys if k in revoked]
    if reused:
        raise IdentityInvalid(f"{label} lists key {reused[0]}, revoked earlier")
    new = signers_of(env, doc.keys)
    if len(new) < doc.threshold:
        raise IdentityInvalid(
            f"{label}: signed by {len(new)} of its own keys, {doc.threshold} required"
        )
    if previous is not None:
        prev = previous.identity
        old = signers_of(env, [k for k in prev.keys if k not in revoked])
        if len(old) < prev.threshold:
            raise IdentityInvalid(
                f"{label}: signed by {len(old)} unrevoked keys of version {prev.version}, "
                f"{prev.threshold} required"
            )
    return Link(doc, env, digest)


def anchored_by(chain: Chain, key: PublicKey) -> bool:
    """True when `key` signed a version that lists it: that version vouches for every
    earlier one through the previous hashes, and thresholds carry trust forward."""
    return any(
        key in link.identity.keys and signers_of(link.envelope, [key]) for link in chain.links
    )


def verify_chain(envelopes: Sequence[Envelope], anchors: Sequence[PublicKey]) -> Chain:
    """Walk a chain from version 1; one of `anchors` (keys trusted directly) must have
    signed a version that lists it."""
    if not 1 <= len(envelopes) <= MAX_VERSIONS:
        raise LimitExceeded(f"an identity chain holds 1 to {MAX_VERSIONS} versions")
    links: list[Link] = []
    revoked: frozenset[PublicKey] = frozenset()
    for env in envelopes:
        link = verify_link(links[-1] if links else None, env, revoked)
        revoked = revoked | set(link.identity.revoked)
        links.append(link)
    chain = Chain(tuple(links))
    if not any(anchored_by(chain, a) for a in anchors):
        raise VerificationError(
            f"identity {chain.name!r} is not signed by a trusted key", reason="untrusted-key"
        )
    return chain


def merge(chains: Sequence[Chain]) -> Chain:
    """The longest of chains that must agree version by version (else a fork: exit 3)."""
    ordered = sorted(chains, key=lambda c: len(c.links))
    longest = ordered[-1]
    for chain in ordered[:-1]:
        if not chain.is_prefix_of(longest):
            at = next(
                i + 1
                for i, (a, b) in enumerate(zip(chain.links, longest.links, strict=False))
                if a.digest != b.digest
            )
            raise IdentityInvalid(
                f"identity {longest.name!r}: two different version {at} documents "
                "(a forked or forged chain)"
            )
    return longest


def current_signers(chain: Chain, name: str = "") -> tuple[list[TrustedKey], int]:
    """The keys (and threshold) that must sign what the publisher says now, e.g. a feed."""
    cur = chain.current
    usable = [TrustedKey(name or chain.name, k, "") for k in cur.keys if k not in chain.revoked]
    return usable, cur.threshold
