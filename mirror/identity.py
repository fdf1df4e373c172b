"""Publisher identity: a signed, versioned set of keys that readers follow across rotations.

An identity document (payload type envelope.IDENTITY_TYPE) names the publisher's
signing keys, how many of them must sign (threshold), the keys revoked so far, an
expiry, a version and the sha256 of the previous version's payload. Version 1 is
signed by a threshold of its own keys; version N+1 by a threshold of version N's
keys (revoked ones not counted) AND a threshold of its own keys, as TUF rotates its
root role. Every bundle carries the chain from version 1 to the version it was
signed under (identity.json); a reader who trusts one key of version 1 walks the
chain, remembers the longest chain seen (state/identity/), and judges a manifest
against the version it names, with revocations taken from the newest version known.
Decision: docs/decisions/0006-publisher-identity.md.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from . import canonjson, envelope, keys, store
from .canonjson import HostileJSON
from .config import Home
from .envelope import Envelope
from .errors import LimitExceeded, UsageError, VerificationError
from .keys import PublicKey, SigningKey, TrustedKey
from .manifest import MANIFEST_NAME, MAX_MANIFEST, Manifest

FORMAT = "mirror-identity/1"
CHAIN_FORMAT = "mirror-identity-chain/1"
STATE_FORMAT = "mirror-identity-state/1"
CHAIN_NAME = "identity.json"  # the chain inside a bundle
PENDING_NAME = "pending.json"  # a next version waiting for co-signatures
MAX_KEYS = 8  # old + new keys of a rotation must fit envelope.MAX_SIGNATURES
MAX_REVOKED = 256
MAX_VERSIONS = 1000
MAX_DOCUMENT = 64 << 10
MAX_CHAIN = 8 << 20
DEFAULT_TTL = timedelta(days=365)
_SHA256 = re.compile(r"^sha256:[0-9a-f]{64}$")
_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
_VERSION_FILE = re.compile(r"^v([1-9][0-9]{0,5})\.json$")
_KNOWN = {"format", "name", "version", "expires", "threshold", "keys", "revoked", "previous"}


def utc_now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def format_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def sha256_tag(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


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
        raise VerificationError(f"{what} is damaged: {exc.message}") from exc


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


def _signers(env: Envelope, candidates: Iterable[PublicKey]) -> set[PublicKey]:
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


def _parse_link(env: Envelope) -> Identity:
    if env.payload_type != envelope.IDENTITY_TYPE:
        raise VerificationError(
            f"identity: payload type is {env.payload_type!r}, expected {envelope.IDENTITY_TYPE!r}"
        )
    try:
        return Identity.from_bytes(env.payload)
    except (HostileJSON, LimitExceeded):
        raise
    except UsageError as exc:
        raise VerificationError(f"identity version is damaged: {exc.message}") from exc


def verify_link(previous: Link | None, env: Envelope, revoked_before: frozenset[PublicKey]) -> Link:
    """Check one version against the one before it (None for version 1)."""
    doc = _parse_link(env)
    digest = sha256_tag(env.payload)
    label = f"identity {doc.name!r} version {doc.version}"
    if previous is None:
        if doc.version != 1:
            raise VerificationError(f"{label}: the chain must start at version 1")
    else:
        prev = previous.identity
        if doc.version != prev.version + 1:
            raise VerificationError(
                f"{label} follows version {prev.version}: versions must go up by one"
            )
        if doc.name != prev.name:
            raise VerificationError(f"{label}: name differs from version {prev.version}")
        if doc.previous != previous.digest:
            raise VerificationError(
                f"{label}: its previous hash does not match version {prev.version}"
            )
    revoked = revoked_before | set(doc.revoked)
    reused = [k.key_id for k in doc.keys if k in revoked]
    if reused:
        raise VerificationError(f"{label} lists key {reused[0]}, revoked earlier")
    new = _signers(env, doc.keys)
    if len(new) < doc.threshold:
        raise VerificationError(
            f"{label}: signed by {len(new)} of its own keys, {doc.threshold} required"
        )
    if previous is not None:
        prev = previous.identity
        old = _signers(env, [k for k in prev.keys if k not in revoked])
        if len(old) < prev.threshold:
            raise VerificationError(
                f"{label}: signed by {len(old)} unrevoked keys of version {prev.version}, "
                f"{prev.threshold} required"
            )
    return Link(doc, env, digest)


def anchored_by(chain: Chain, key: PublicKey) -> bool:
    """True when `key` signed a version that lists it: that version vouches for every
    earlier one through the previous hashes, and thresholds carry trust forward."""
    return any(key in link.identity.keys and _signers(link.envelope, [key]) for link in chain.links)


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
        raise VerificationError(f"identity {chain.name!r} is not signed by a trusted key")
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
            raise VerificationError(
                f"identity {longest.name!r}: two different version {at} documents "
                "(a forked or forged chain)"
            )
    return longest


# -- what a reader remembers ----------------------------------------------------------------


def _state_path(home: Home, anchor: PublicKey) -> Path:
    return home.state_dir / "identity" / f"{hashlib.sha256(anchor.raw).hexdigest()}.json"


def remembered(home: Home, anchor: PublicKey) -> Chain | None:
    """The longest chain seen for the publisher trusted through `anchor`, re-verified."""
    path = _state_path(home, anchor)
    if not path.exists():
        return None
    data = store.read_bytes(path, limit=MAX_CHAIN + 4096, what="identity state")
    doc = canonjson.loads(data.rstrip(b"\n"), max_size=MAX_CHAIN + 4096, what=str(path))
    if doc.get("format") != STATE_FORMAT or not isinstance(doc.get("chain"), dict):
        raise UsageError(f"{path} is not an identity state file")
    return verify_chain(parse_chain_obj(doc["chain"], str(path)), [anchor])


def remember(home: Home, anchor: PublicKey, chain: Chain, *, current: bool = False) -> Chain:
    """Merge `chain` into what is remembered; returns the newest chain known.

    current=True (a feed, which speaks for the publisher now) refuses a chain shorter
    than the remembered one as a rollback. Nothing is written on any failure.
    """
    known = remembered(home, anchor)
    if known is not None and current and len(chain.links) < len(known.links):
        raise VerificationError(
            f"identity {chain.name!r} rollback: version {chain.current.version} offered, "
            f"version {known.current.version} already seen"
        )
    newest = merge([chain, known]) if known is not None else chain
    if known is None or len(newest.links) > len(known.links):
        body = canonjson.loads(newest.to_bytes().rstrip(b"\n"), max_size=MAX_CHAIN)
        doc = {"format": STATE_FORMAT, "anchor": anchor.to_text(), "chain": body}
        store.atomic_write(
            _state_path(home, anchor), canonjson.dumps(doc) + b"\n", label="identity-state"
        )
    return newest


def remembered_version(home: Home, anchor: PublicKey) -> int:
    known = remembered(home, anchor)
    return known.current.version if known else 0


# -- judging a manifest ---------------------------------------------------------------------


def check_manifest(
    env: Envelope,
    trusted: Sequence[TrustedKey],
    *,
    chain_data: bytes | None,
    home: Home | None,
) -> tuple[Manifest, TrustedKey] | None:
    """Judge a manifest envelope under the publisher's identity, or None when no identity
    applies (no chain in the bundle, none remembered, none held): the caller then checks
    a single trusted key as before.

    Sources of the chain: the bundle's identity.json, the chain remembered for the
    trusted key, and this data directory's own identity; they must agree.
    """
    anchors = [t.key for t in trusted]
    sources: dict[PublicKey, list[Chain]] = {}
    if chain_data is not None:
        bundled = verify_chain(parse_chain(chain_data), anchors)
        for t in trusted:
            if anchored_by(bundled, t.key):
                sources.setdefault(t.key, []).append(bundled)
    if home is not None:
        own = home_chain(home)
        for t in trusted:
            known = remembered(home, t.key)
            if known is not None:
                sources.setdefault(t.key, []).append(known)
            if own is not None and anchored_by(own, t.key):
                sources.setdefault(t.key, []).append(own)
    if not sources:
        return None
    first_error: VerificationError | None = None
    for anchor_key, chains in sources.items():
        anchor = next(t for t in trusted if t.key == anchor_key)
        try:
            known = merge(chains)
            result = judge(env, known, anchor)
        except VerificationError as exc:
            first_error = first_error or exc
            continue
        if home is not None:
            remember(home, anchor_key, known)
        return result
    assert first_error is not None
    raise first_error


def judge(env: Envelope, chain: Chain, anchor: TrustedKey) -> tuple[Manifest, TrustedKey]:
    """A manifest is valid when a threshold of the keys of the identity version it names
    signed it, or a threshold of the newest version's keys did; revoked keys never count."""
    pool = [TrustedKey(anchor.name, k, "") for k in chain.all_keys()]
    verified = envelope.verify(
        env, envelope.MANIFEST_TYPE, pool, what=f"manifest (identity {chain.name!r})"
    )
    manifest = Manifest.from_bytes(verified.payload)
    signed = {t.key for t in verified.signers}
    revoked = chain.revoked
    good = signed - revoked
    current = chain.current
    named = manifest.publisher.get("identity_version")
    if named is None:
        # A manifest made before the identity: the trusted key itself, unless revoked.
        base_keys: tuple[PublicKey, ...] = (anchor.key,)
        base_ok, base_threshold = anchor.key in good, 1
        label = "the trusted key"
    else:
        if not isinstance(named, int) or isinstance(named, bool) or named < 1:
            raise VerificationError(
                "manifest: publisher.identity_version must be a positive integer"
            )
        if named > len(chain.links):
            raise VerificationError(
                f"manifest names identity {chain.name!r} version {named}, but only versions "
                f"up to {current.version} are known (missing or short {CHAIN_NAME})"
            )
        version = chain.version(named)
        base_keys, base_threshold = version.keys, version.threshold
        base_ok = len(good & set(base_keys)) >= base_threshold
        label = f"version {named}"
    if base_ok:
        signer = next(k for k in base_keys if k in good)
    elif len(good & set(current.keys)) >= current.threshold:
        signer = next(k for k in current.keys if k in good)
    else:
        bad = sorted(signed & revoked, key=lambda k: k.key_id)
        if bad:
            raise VerificationError(
                f"manifest is signed by key {bad[0].key_id}, revoked in identity {chain.name!r} "
                f"version {chain.revoked_in(bad[0])}, and not re-signed by current keys "
                "(see `mirror identity resign`)"
            )
        count = len(good & set(base_keys))
        raise VerificationError(
            f"manifest: {count} valid signature(s) by keys of identity {chain.name!r} "
            f"{label}, {base_threshold} required"
        )
    return manifest, TrustedKey(anchor.name, signer, anchor.added)


def verify_chain_for(
    home: Home | None, trusted: Sequence[TrustedKey], doc: dict[str, Any], *, current: bool = True
) -> Chain:
    """For feeds: verify a chain object against trusted keys, merge it with what is
    remembered and (current=True) refuse a rollback; remembers the result."""
    chain = verify_chain(parse_chain_obj(doc, "feed identity"), [t.key for t in trusted])
    if home is None:
        return chain
    anchor = next(t.key for t in trusted if anchored_by(chain, t.key))
    return remember(home, anchor, chain, current=current)


def current_signers(chain: Chain, name: str = "") -> tuple[list[TrustedKey], int]:
    """The keys (and threshold) that must sign what the publisher says now, e.g. a feed."""
    cur = chain.current
    usable = [TrustedKey(name or chain.name, k, "") for k in cur.keys if k not in chain.revoked]
    return usable, cur.threshold


# -- the publisher's own identity (identity/ in the data directory) ------------------------


def identity_dir(home: Home) -> Path:
    return home.root / "identity"


def _load_envelope(path: Path, what: str) -> Envelope:
    data = store.read_bytes(path, limit=MAX_DOCUMENT * 2, what=what)
    return Envelope.from_bytes(data, max_size=MAX_DOCUMENT * 2, what=what)


def home_chain(home: Home) -> Chain | None:
    """This data directory's identity (every version kept as identity/vN.json)."""
    directory = identity_dir(home)
    if not directory.is_dir():
        return None
    numbers = sorted(
        int(m.group(1)) for p in directory.iterdir() if (m := _VERSION_FILE.match(p.name))
    )
    if not numbers:
        return None
    if numbers != list(range(1, len(numbers) + 1)):
        raise VerificationError(f"{directory} is missing identity versions (has {numbers})")
    envs = [_load_envelope(directory / f"v{n}.json", f"identity v{n}") for n in numbers]
    first = _parse_link(envs[0])
    return verify_chain(envs, first.keys)


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
    doc = _parse_link(env)
    old_signed = old_threshold = 0
    if chain is not None and doc.version >= 2 and doc.version - 1 <= len(chain.links):
        prev = chain.version(doc.version - 1)
        revoked = chain.revoked | set(doc.revoked)
        old_signed = len(_signers(env, [k for k in prev.keys if k not in revoked]))
        old_threshold = prev.threshold
    return SignStatus(
        doc.name,
        doc.version,
        path,
        complete,
        old_signed,
        old_threshold,
        len(_signers(env, doc.keys)),
        doc.threshold,
    )


def _try_adopt(home: Home, chain: Chain, env: Envelope) -> bool:
    """Store `env` as the next version if it is one and is fully signed."""
    doc = _parse_link(env)
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
    env = _load_envelope(path, "identity file")
    doc = _parse_link(env)
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


@dataclass(frozen=True, slots=True)
class Signer:
    """What a bundle needs from the identity: keys that meet the threshold, the version
    they sign under, and the chain bytes that go into the bundle as identity.json."""

    keys: tuple[SigningKey, ...]
    version: int
    chain: bytes

    def publisher(self) -> dict[str, Any]:
        return {"key_id": self.keys[0].public.key_id, "identity_version": self.version}


def load_signer(
    home: Home,
    passphrase: str,
    key_name: str | None = None,
    now: datetime | None = None,
    *,
    loaded: SigningKey | None = None,
) -> Signer | None:
    """The identity signer of this data directory, or None when it has no identity
    (bundles are then signed by one key, as before identities existed). `loaded` is
    the key the caller already unlocked (key_name's, or the default), so it is not
    derived from the passphrase a second time."""
    chain = home_chain(home)
    if chain is None:
        return None
    cur = chain.current
    if cur.expired(now):
        raise UsageError(
            f"identity {cur.name!r} version {cur.version} expired at {cur.expires}; "
            "renew it with `mirror identity rotate`"
        )
    usable = [k for k in cur.keys if k not in chain.revoked]
    held: list[SigningKey] = []
    if key_name or loaded is not None:
        first = loaded or keys.load_signing_key(home, str(key_name), passphrase)
        if first.public in usable:
            held = [first]
        elif key_name:
            raise UsageError(f"key {key_name!r} is not a current key of identity {cur.name!r}")
    rest = [k for k in usable if not held or k != held[0].public]
    held += held_keys(home, rest, passphrase, limit=cur.threshold - len(held))
    if len(held) < cur.threshold:
        raise UsageError(
            f"identity {cur.name!r} version {cur.version} needs {cur.threshold} signatures; "
            f"this data directory holds {len(held)} of its keys"
        )
    return Signer(tuple(held[: cur.threshold]), cur.version, chain.to_bytes())


@dataclass(frozen=True, slots=True)
class ResignResult:
    path: Path
    root_cid: str
    old_version: int | None
    version: int


def resign(home: Home, folders: Sequence[Path], passphrase: str) -> list[ResignResult]:
    """Re-issue bundle folders under the current identity (new identity.json, manifest
    signed by current keys; content, article and capture facts unchanged).

    Each folder must be intact and signed by some key that ever belonged to this
    identity (revoked ones included: rescuing those bundles is the point). Only resign
    bundles you know you published: a stolen key may have signed others.
    """
    from . import bundle as bundle_mod
    from . import verify as verify_mod
    from .ipld import unixfs

    chain = require_chain(home)
    signer = load_signer(home, passphrase)
    assert signer is not None
    pool = [TrustedKey(chain.name, k, "") for k in chain.all_keys()]
    results = []
    for folder in folders:
        folder = Path(folder)
        manifest_path = folder / MANIFEST_NAME
        if not manifest_path.is_file():
            raise UsageError(f"{folder} has no manifest.json: not a bundle folder")
        try:
            env = Envelope.from_bytes(
                store.read_bytes(manifest_path, limit=MAX_MANIFEST, what="manifest.json"),
                max_size=MAX_MANIFEST,
                what="manifest.json",
            )
        except HostileJSON:
            raise
        except UsageError as exc:
            raise VerificationError(f"{folder}: manifest.json is damaged: {exc.message}") from exc
        verified = envelope.verify(
            env, envelope.MANIFEST_TYPE, pool, what=f"{folder}: manifest (identity {chain.name!r})"
        )
        manifest = Manifest.from_bytes(verified.payload)
        added = unixfs.add_path(folder)
        found = {
            rel: (e.size, f"sha256:{e.sha256}", e.cid.encode())
            for rel, e in added.files.items()
            if rel != MANIFEST_NAME
        }
        verify_mod._compare(manifest, found)
        content: dict[str, bytes | Path] = {
            f.path: folder / f.path for f in manifest.files if f.path != CHAIN_NAME
        }
        old = manifest.publisher.get("identity_version")
        result = bundle_mod.write_bundle(
            folder,
            content,
            article=manifest.article,
            capture=manifest.capture,
            key=signer.keys[0],
            created_at=manifest.created_at,
            publisher={"resigned_at": format_time(utc_now())},
            identity=signer,
        )
        results.append(
            ResignResult(
                folder, result.root.encode(), old if isinstance(old, int) else None, signer.version
            )
        )
    return results
