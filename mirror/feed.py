"""The publisher's signed feed, its signed head, and remembered versions.

A feed document (payload type envelope.FEED_TYPE) lists every bundle a publisher
has published, newest first, with a strictly increasing `version`, an `expires`
time and the CID of the previous feed file. It is stored on IPFS as one UnixFS
file holding the signed envelope bytes, so bundle CIDs inside it are plain strings
and pins of bundles stay recursive. A feed head (envelope.HEAD_TYPE) names the
current feed CID and version; it travels over IPNS, pubsub or a file.

A publisher with an identity (mirror/identity.py) embeds its chain (field
`identity`) in feeds and heads and signs them with a threshold of the identity's
current keys; readers walk the chain from the key they trust. Readers and followers
remember, per trusted key (the anchor, so a key rotation changes nothing), the
highest version seen and the hash of its payload, and refuse rollback, a changed
document under the same version, and expired (frozen) feeds; the identity chain is
remembered at the same moment and never moves on a refusal.
Decisions: docs/decisions/0004-feed.md, 0006-publisher-identity.md.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from . import canonjson, clock, envelope, identity, identity_state, store, tsa_trust
from .addresses import is_public_address, literal_ip
from .canonjson import HostileJSON
from .clock import format_time, sha256_tag, utc_now
from .config import Home
from .envelope import Envelope
from .errors import LimitExceeded, UsageError, VerificationError
from .ipld.cid import CID
from .keys import SigningKey, TrustedKey
from .timeline import chain_policies, merged_roots
from .timestamp import verify_envelope_stamps

Signers = SigningKey | Sequence[SigningKey]

FEED_FORMAT = "mirror-feed/1"
HEAD_FORMAT = "mirror-feed-head/1"
STATE_FORMAT = "mirror-feed-state/1"
MAX_ENTRIES = 100_000
MAX_FEED_PAYLOAD = 32 << 20
# The stored feed file is the envelope: base64 of the payload plus a little framing.
MAX_FEED_FILE = MAX_FEED_PAYLOAD * 4 // 3 + (64 << 10)
MAX_HEAD = 64 << 10
MAX_GATEWAYS = 32
MAX_VERIFIER = 1 << 20  # the verifier page is under 200 KB; this bounds what a follower fetches
DEFAULT_TTL = timedelta(days=7)
FEED_NAME = "feed.json"
HEAD_NAME = "head.json"
_SHA256 = re.compile(r"^sha256:[0-9a-f]{64}$")
_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
_KEY_ID = re.compile(r"^[0-9a-f]{16}$")


def parse_time(text: Any, what: str) -> datetime:
    """A signed time field, checked (the one format lives in clock.py)."""
    if not isinstance(text, str) or not _TIME.match(text):
        raise UsageError(f"{what} must be a UTC time like 2025-01-31T12:00:00Z")
    try:
        return clock.parse_time(text)
    except ValueError as exc:
        raise UsageError(f"{what} is not a valid time: {text!r}") from exc


def check_cid(text: Any, what: str) -> str:
    if not isinstance(text, str):
        raise UsageError(f"{what} must be a CID string")
    CID.decode(text)  # raises UsageError on anything that is not a CID
    return text


def topic_for(key_id: str) -> str:
    """The pubsub topic on which a publisher's feed heads are announced."""
    return f"mirror/feed/{key_id}"


def ipns_key_name(key_id: str) -> str:
    """The node key under which a publisher's feed is named by IPNS."""
    return f"mirror-{key_id}"


# -- values ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FeedEntry:
    root_cid: str
    url: str
    title: str
    published: str | None
    captured_at: str
    manifest_sha256: str
    size: int
    stamped_at: str | None = None  # the bundle's verified RFC 3161 time, when stamped

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "root_cid": self.root_cid,
            "url": self.url,
            "title": self.title,
            "published": self.published,
            "captured_at": self.captured_at,
            "manifest_sha256": self.manifest_sha256,
            "size": self.size,
        }
        if self.stamped_at is not None:
            out["stamped_at"] = self.stamped_at
        return out

    @classmethod
    def from_dict(cls, d: Any) -> FeedEntry:
        if not isinstance(d, dict):
            raise UsageError("feed entries must be objects")
        try:
            root, url, title = d["root_cid"], d["url"], d["title"]
            published, captured, digest, size = (
                d.get("published"),
                d["captured_at"],
                d["manifest_sha256"],
                d["size"],
            )
        except KeyError as exc:
            raise UsageError(f"feed entry without {exc.args[0]}") from exc
        for name, value in (("url", url), ("title", title), ("captured_at", captured)):
            if not isinstance(value, str) or len(value) > 8192:
                raise UsageError(f"feed entry {name} must be a string")
        if published is not None and not isinstance(published, str):
            raise UsageError("feed entry published must be a string or null")
        if not isinstance(digest, str) or not _SHA256.match(digest):
            raise UsageError("feed entry manifest_sha256 must be 'sha256:<64 hex>'")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise UsageError("feed entry size must be a non-negative integer")
        stamped = d.get("stamped_at")
        if stamped is not None:
            parse_time(stamped, "feed entry stamped_at")
        return cls(
            check_cid(root, "feed entry root_cid"),
            url,
            title,
            published,
            captured,
            digest,
            size,
            stamped,
        )


@dataclass(frozen=True, slots=True)
class VerifierRef:
    """The publisher's verifier page (`mirror verifier`), named by the feed so that
    followers pin it after checking its size and hash (decision 0004)."""

    cid: str
    sha256: str
    size: int

    def to_dict(self) -> dict[str, Any]:
        return {"cid": self.cid, "sha256": self.sha256, "size": self.size}

    @classmethod
    def from_dict(cls, d: Any) -> VerifierRef:
        if not isinstance(d, dict) or set(d) != {"cid", "sha256", "size"}:
            raise UsageError("feed verifier has exactly cid, sha256 and size")
        cid, digest, size = d["cid"], d["sha256"], d["size"]
        if not isinstance(digest, str) or not _SHA256.match(digest):
            raise UsageError("feed verifier sha256 must be 'sha256:<64 hex>'")
        if not isinstance(size, int) or isinstance(size, bool) or not 0 < size <= MAX_VERIFIER:
            raise UsageError(f"feed verifier size must be from 1 to {MAX_VERIFIER} bytes")
        return cls(check_cid(cid, "feed verifier cid"), digest, size)


@dataclass(frozen=True, slots=True)
class Feed:
    key_id: str
    public_key: str
    version: int
    created_at: str
    expires: str
    previous: str | None
    entries: tuple[FeedEntry, ...]
    gateways: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)
    identity: dict[str, Any] | None = None  # the publisher's identity chain object
    verifier: VerifierRef | None = None  # the publisher's verifier page, for followers

    def to_dict(self) -> dict[str, Any]:
        chain = {} if self.identity is None else {"identity": self.identity}
        page = {} if self.verifier is None else {"verifier": self.verifier.to_dict()}
        return {
            **self.extra,
            **chain,
            **page,
            "format": FEED_FORMAT,
            "publisher": {"key_id": self.key_id, "public_key": self.public_key},
            "version": self.version,
            "created_at": self.created_at,
            "expires": self.expires,
            "previous": self.previous,
            "entries": [e.to_dict() for e in self.entries],
            "gateways": list(self.gateways),
        }

    def to_bytes(self) -> bytes:
        return canonjson.dumps(self.to_dict())

    @classmethod
    def from_bytes(cls, payload: bytes) -> Feed:
        """Parse a feed payload under the limits (LimitExceeded, exit 5) and the schema."""
        check_payload_limits(payload)
        return cls.from_doc(canonjson.loads(payload, max_size=MAX_FEED_PAYLOAD, what="feed"))

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Feed:
        """A parsed feed document (from exactly the bytes whose signature was checked)."""
        if doc.get("format") != FEED_FORMAT:
            raise UsageError(f"feed format is {doc.get('format')!r}, expected {FEED_FORMAT!r}")
        entries = doc.get("entries")
        if not isinstance(entries, list):
            raise UsageError("feed entries must be a list")
        if len(entries) > MAX_ENTRIES:
            raise LimitExceeded(f"feed has more than {MAX_ENTRIES} entries")
        publisher = doc.get("publisher")
        if not isinstance(publisher, dict):
            raise UsageError("feed publisher must be an object")
        key_id, public_key = publisher.get("key_id"), publisher.get("public_key")
        if not isinstance(key_id, str) or not _KEY_ID.match(key_id):
            raise UsageError("feed publisher key_id must be 16 hex digits")
        if not isinstance(public_key, str):
            raise UsageError("feed publisher public_key must be a string")
        version = doc.get("version")
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise UsageError("feed version must be a positive integer")
        previous = doc.get("previous")
        if previous is not None:
            check_cid(previous, "feed previous")
        gateways = doc.get("gateways", [])
        if not isinstance(gateways, list) or len(gateways) > MAX_GATEWAYS:
            raise UsageError(f"feed gateways must be a list of at most {MAX_GATEWAYS} URLs")
        if not all(isinstance(g, str) and g.startswith(("https://", "http://")) for g in gateways):
            raise UsageError("feed gateways must be http(s) URLs")
        parse_time(doc.get("created_at"), "feed created_at")
        parse_time(doc.get("expires"), "feed expires")
        chain = doc.get("identity")
        if chain is not None and not isinstance(chain, dict):
            raise UsageError("feed identity must be an identity chain object")
        page = doc.get("verifier")
        known = {
            "verifier",
            "identity",
            "format",
            "publisher",
            "version",
            "created_at",
            "expires",
            "previous",
            "entries",
            "gateways",
        }
        return cls(
            key_id=key_id,
            public_key=public_key,
            version=version,
            created_at=doc["created_at"],
            expires=doc["expires"],
            previous=previous,
            entries=tuple(FeedEntry.from_dict(e) for e in entries),
            gateways=tuple(gateways),
            extra={k: v for k, v in doc.items() if k not in known},
            identity=chain,
            verifier=VerifierRef.from_dict(page) if page is not None else None,
        )


@dataclass(frozen=True, slots=True)
class Head:
    feed_cid: str
    version: int
    expires: str
    key_id: str
    identity: dict[str, Any] | None = None  # the chain, when it fits in a head

    def to_bytes(self) -> bytes:
        chain = {} if self.identity is None else {"identity": self.identity}
        return canonjson.dumps(
            {
                **chain,
                "format": HEAD_FORMAT,
                "feed_cid": self.feed_cid,
                "version": self.version,
                "expires": self.expires,
                "publisher": {"key_id": self.key_id},
            }
        )

    @classmethod
    def from_bytes(cls, payload: bytes) -> Head:
        doc = canonjson.loads(payload, max_size=MAX_HEAD, what="feed head")
        if doc.get("format") != HEAD_FORMAT:
            raise UsageError(f"feed head format is {doc.get('format')!r}, expected {HEAD_FORMAT!r}")
        version, publisher = doc.get("version"), doc.get("publisher")
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise UsageError("feed head version must be a positive integer")
        if not isinstance(publisher, dict) or not isinstance(publisher.get("key_id"), str):
            raise UsageError("feed head publisher must name a key_id")
        parse_time(doc.get("expires"), "feed head expires")
        chain = doc.get("identity")
        if chain is not None and not isinstance(chain, dict):
            raise UsageError("feed head identity must be an identity chain object")
        return cls(
            check_cid(doc.get("feed_cid"), "feed head feed_cid"),
            version,
            doc["expires"],
            publisher["key_id"],
            chain,
        )


@dataclass(frozen=True, slots=True)
class VerifiedFeed:
    feed: Feed
    payload_sha256: str
    signer: TrustedKey  # named after the trusted key
    anchor: TrustedKey  # the trusted key: remembered state is keyed by it
    chain: identity.Chain | None = None  # the feed's own chain, remembered with it

    @property
    def anchor_id(self) -> str:
        return self.anchor.key.key_id


@dataclass(frozen=True, slots=True)
class VerifiedHead:
    head: Head
    signer: TrustedKey
    anchor: TrustedKey

    @property
    def anchor_id(self) -> str:
        return self.anchor.key.key_id


# -- signing and verifying -------------------------------------------------------------


def _key_list(keys: Signers) -> list[SigningKey]:
    listed = [keys] if isinstance(keys, SigningKey) else list(keys)
    if not listed:
        raise UsageError("nothing to sign with: no key given")
    return listed


def build_feed(
    key: Signers,
    entries: Sequence[FeedEntry],
    *,
    previous: Feed | None,
    previous_cid: str | None,
    ttl: timedelta = DEFAULT_TTL,
    gateways: Sequence[str] = (),
    now: datetime | None = None,
    chain: dict[str, Any] | None = None,
    verifier: VerifierRef | None = None,
) -> Feed:
    """The next feed: version one above the previous, entries newest first; `chain`
    is the publisher's identity chain object (identity.Chain.to_bytes(), parsed)."""
    if len(entries) > MAX_ENTRIES:
        raise LimitExceeded(f"feed has more than {MAX_ENTRIES} entries")
    first = _key_list(key)[0]
    moment = now or utc_now()
    return Feed(
        key_id=first.public.key_id,
        public_key=first.public.to_text(),
        version=(previous.version + 1) if previous else 1,
        created_at=format_time(moment),
        expires=format_time(moment + ttl),
        previous=previous_cid,
        entries=tuple(entries),
        gateways=tuple(gateways),
        identity=chain,
        verifier=verifier,
    )


def sign_feed(
    feed: Feed, key: Signers, stamp: Callable[[Envelope], Envelope] | None = None
) -> bytes:
    """The feed file: the signed envelope bytes, as stored on IPFS. `stamp` adds RFC
    3161 timestamps to the signatures (Signer.stamp)."""
    payload = feed.to_bytes()
    if len(payload) > MAX_FEED_PAYLOAD:
        raise LimitExceeded(f"feed document is larger than {MAX_FEED_PAYLOAD} bytes")
    signed = envelope.sign(envelope.FEED_TYPE, payload, _key_list(key))
    return (stamp(signed) if stamp else signed).to_bytes()


def sign_head(head: Head, key: Signers) -> bytes:
    return envelope.sign(envelope.HEAD_TYPE, head.to_bytes(), _key_list(key)).to_bytes()


def head_for(feed: Feed, feed_cid: str) -> Head:
    """The head of a feed; it carries the identity chain when that leaves room to spare."""
    chain = feed.identity
    if chain is not None and len(canonjson.dumps(chain)) > MAX_HEAD // 2:
        chain = None  # readers then need the chain from the feed or their memory
    return Head(feed_cid, feed.version, feed.expires, feed.key_id, chain)


def check_payload_limits(payload: bytes) -> None:
    if len(payload) > MAX_FEED_PAYLOAD:
        raise LimitExceeded(f"feed document is larger than {MAX_FEED_PAYLOAD} bytes")
    # Every entry is an object: counting braces bounds the parse before it allocates
    # millions of objects (a brace inside a title only makes this stricter).
    if payload.count(b"{") > 2 * MAX_ENTRIES + 64:
        raise LimitExceeded(f"feed has more than {MAX_ENTRIES} entries")


@dataclass(frozen=True, slots=True)
class Authority:
    """Who may sign what a publisher says now, and which trusted key stands for it."""

    keys: tuple[TrustedKey, ...]
    threshold: int
    anchor: TrustedKey | None  # None: whichever trusted key signs (no identity known)
    chain: identity.Chain | None  # the chain the document carried


def _parse_unverified(
    env: envelope.Envelope, payload_type: str, max_size: int, what: str
) -> tuple[dict[str, Any] | None, UsageError | None]:
    """The payload parsed once, before its signature is checked, for its `identity`
    chain (which authenticates itself against the trusted keys). Nothing else in it is
    used before the signature check; a parse error is raised only after that check,
    so a forged document is a verification failure (exit 3)."""
    if env.payload_type != payload_type:
        return None, None  # envelope.verify refuses it
    try:
        return canonjson.loads(env.payload, max_size=max_size, what=what), None
    except (HostileJSON, LimitExceeded):
        raise
    except UsageError as exc:
        return None, exc


def authority(
    chain_doc: Any, trusted: Sequence[TrustedKey], home: Home | None, what: str = "feed"
) -> Authority:
    """The keys that must sign a feed or head: the current keys of the chain it
    carries (checked against the remembered chain: no rollback, no fork), else of the
    chain remembered for a trusted key, else the trusted keys themselves."""
    if chain_doc is not None:
        if not isinstance(chain_doc, dict):
            raise VerificationError(f"{what} identity is not an identity chain object")
        try:
            envs = identity.parse_chain_obj(chain_doc, f"{what} identity")
        except (HostileJSON, LimitExceeded):
            raise
        except UsageError as exc:
            raise VerificationError(f"{what} identity is damaged: {exc.message}") from exc
        chain = identity.verify_chain(envs, [t.key for t in trusted])
        anchor = next(t for t in trusted if identity.anchored_by(chain, t.key))
        if home is not None:
            known = identity_state.remembered(home, anchor.key)
            if known is not None:
                if len(chain.links) < len(known.links):
                    raise VerificationError(
                        f"{what}: identity {chain.name!r} rollback: version "
                        f"{chain.current.version} offered, version {known.current.version} "
                        "already seen",
                        reason="rollback",
                    )
                identity.merge([chain, known])  # a fork is refused here
        signers, threshold = identity.current_signers(chain, anchor.name)
        return Authority(tuple(signers), threshold, anchor, chain)
    if home is not None:
        for t in trusted:
            known = identity_state.remembered(home, t.key)
            if known is not None:
                signers, threshold = identity.current_signers(known, t.name)
                return Authority(tuple(signers), threshold, t, None)
    return Authority(tuple(trusted), 1, None, None)


def _check_stamps(env: Envelope, chain: identity.Chain | None, home: Home | None) -> None:
    """A feed's timestamps are never ignored: each verifies against the reader's TSA
    roots and those the publisher's identity lists (bad-timestamp, untrusted-tsa)."""
    if all(s.tst is None for s in env.signatures):
        return
    policies = chain_policies([link.identity.extra for link in chain.links]) if chain else []
    verify_envelope_stamps(env, merged_roots(tsa_trust.roots(home) if home else [], policies))


def verify_feed(
    data: bytes, trusted: Sequence[TrustedKey], *, home: Home | None = None
) -> VerifiedFeed:
    """Signature first (feed payload type only), then parse exactly the verified bytes.

    Size limits come before anything else (exit 5); the envelope must carry valid
    signatures by a threshold of the publisher's current keys, reached from a
    trusted key through the identity chain when there is one (exit 3), and the
    document must name one of its signers. With `home`, the chain is checked against
    the remembered one; nothing is written here (see remember()).
    """
    if len(data) > MAX_FEED_FILE:
        raise LimitExceeded(f"feed file is larger than {MAX_FEED_FILE} bytes")
    env = envelope.Envelope.from_bytes(data, max_size=MAX_FEED_FILE, what="feed")
    check_payload_limits(env.payload)
    doc, error = _parse_unverified(env, envelope.FEED_TYPE, MAX_FEED_PAYLOAD, "feed")
    auth = authority(doc.get("identity") if doc else None, trusted, home)
    verified = envelope.verify(
        env, envelope.FEED_TYPE, auth.keys, threshold=auth.threshold, what="feed"
    )
    if doc is None:
        raise error or UsageError("feed is not a JSON object")
    feed = Feed.from_doc(doc)  # parsed from verified.payload, the same bytes
    signer = next((t for t in verified.signers if t.key.to_text() == feed.public_key), None)
    if signer is None or feed.key_id != signer.key.key_id:
        raise VerificationError("feed names a publisher key other than the one that signed it")
    _check_stamps(env, auth.chain, home)
    anchor = auth.anchor or signer
    return VerifiedFeed(feed, sha256_tag(verified.payload), signer, anchor, auth.chain)


def verify_head(
    data: bytes, trusted: Sequence[TrustedKey], *, home: Home | None = None
) -> VerifiedHead:
    env = envelope.Envelope.from_bytes(data, max_size=MAX_HEAD, what="feed head")
    doc, _ = _parse_unverified(env, envelope.HEAD_TYPE, MAX_HEAD, "feed head")
    auth = authority(doc.get("identity") if doc else None, trusted, home, "feed head")
    verified = envelope.verify(
        env, envelope.HEAD_TYPE, auth.keys, threshold=auth.threshold, what="feed head"
    )
    head = Head.from_bytes(verified.payload)
    signer = next((t for t in verified.signers if t.key.key_id == head.key_id), None)
    if signer is None:
        raise VerificationError("feed head names a publisher key other than the one that signed it")
    return VerifiedHead(head, signer, auth.anchor or signer)


def claimed_head_key_id(data: bytes) -> str:
    """The publisher key id a head claims, unverified: only to pick the pubsub topic a
    relay sends it on (whoever receives the head verifies it)."""
    env = envelope.Envelope.from_bytes(data, max_size=MAX_HEAD, what="head file")
    claimed = canonjson.loads(env.payload, max_size=MAX_HEAD, what="head")
    publisher = claimed.get("publisher")
    key_id = publisher.get("key_id") if isinstance(publisher, dict) else None
    if not isinstance(key_id, str):
        raise UsageError("head file names no publisher key id; use --publisher")
    return key_id


def check_not_expired(expires: str, what: str = "feed", now: datetime | None = None) -> None:
    if parse_time(expires, f"{what} expires") <= (now or utc_now()):
        raise VerificationError(
            f"{what} expired at {expires}: the publisher stopped renewing it (frozen feed?)",
            reason="expired",
        )


def check_head_matches(head: Head, verified: VerifiedFeed, feed_cid: str) -> None:
    if CID.decode(head.feed_cid) != CID.decode(feed_cid):
        raise VerificationError("feed CID differs from the one the head names")
    if head.version != verified.feed.version or head.key_id != verified.feed.key_id:
        raise VerificationError("feed head and feed disagree on version or publisher")


# -- remembered versions ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Remembered:
    key_id: str
    version: int
    payload_sha256: str
    feed_cid: str | None
    gateways: tuple[str, ...] = ()  # the publisher's recommended gateways, from the feed


def _state_path(home: Home, key_id: str) -> Path:
    if not _KEY_ID.match(key_id):
        raise UsageError(f"bad publisher key id {key_id!r}")
    return home.state_dir / "feeds" / f"{key_id}.json"


def load_remembered(home: Home, key_id: str) -> Remembered | None:
    path = _state_path(home, key_id)
    if not path.exists():
        return None
    doc = canonjson.loads(
        store.read_bytes(path, limit=64 << 10, what="feed state"),
        max_size=64 << 10,
        what=f"feed state {path.name}",
    )
    try:
        version, digest = doc["version"], doc["payload_sha256"]
        if doc.get("format") != STATE_FORMAT or not isinstance(version, int):
            raise TypeError
        gateways = doc.get("gateways", [])
        if not isinstance(gateways, list) or not all(isinstance(g, str) for g in gateways):
            raise TypeError
        return Remembered(key_id, version, str(digest), doc.get("feed_cid"), tuple(gateways))
    except (KeyError, TypeError) as exc:
        raise UsageError(f"feed state {path} is corrupt") from exc


def remembered_gateways(home: Home, trusted: Sequence[TrustedKey]) -> tuple[str, ...]:
    """Gateways the trusted publishers' last verified feeds recommend (for `mirror get`).

    Only public https gateways: a signed feed must not steer a reader's machine to a
    local service (the content is verified either way)."""
    found: list[str] = []
    for t in trusted:
        known = load_remembered(home, t.key.key_id)
        for url in known.gateways if known else ():
            host = urlsplit(url).hostname or ""
            ip = literal_ip(host)
            local = host == "localhost" or host.endswith((".localhost", ".local"))
            if url.startswith("https://") and not local and (ip is None or is_public_address(ip)):
                found.append(url)
    return tuple(found)


def check_against_remembered(
    home: Home, verified: VerifiedFeed, *, now: datetime | None = None
) -> Remembered | None:
    """Refuse rollback, the same version with other content, and expired feeds (exit 3).

    Returns what was remembered; nothing is written here (see remember()).
    """
    feed = verified.feed
    who = verified.anchor_id
    known = load_remembered(home, who)
    if known is not None:
        if feed.version < known.version:
            raise VerificationError(
                f"feed rollback refused: version {feed.version} is older than the "
                f"version {known.version} already seen for publisher {who}",
                reason="rollback",
            )
        if feed.version == known.version and verified.payload_sha256 != known.payload_sha256:
            raise VerificationError(
                f"feed version {feed.version} of publisher {who} differs from the "
                "document already seen under that version"
            )
    check_not_expired(feed.expires, now=now)
    return known


def check_head_against_remembered(
    home: Home, verified: VerifiedHead, *, now: datetime | None = None
) -> None:
    head, who = verified.head, verified.anchor_id
    known = load_remembered(home, who)
    if known is not None and head.version < known.version:
        raise VerificationError(
            f"feed head rollback refused: version {head.version} is older than the "
            f"version {known.version} already seen for publisher {who}",
            reason="rollback",
        )
    check_not_expired(head.expires, "feed head", now=now)


def remember(home: Home, verified: VerifiedFeed, feed_cid: str | None) -> None:
    """Move the remembered identity chain and feed version forward (never backward),
    atomically, keyed by the trusted key (the anchor)."""
    feed, who = verified.feed, verified.anchor_id
    if verified.chain is not None:
        known_chain = identity_state.remembered(home, verified.anchor.key)
        newest = identity.merge([verified.chain, known_chain]) if known_chain else verified.chain
        identity_state.save(home, verified.anchor.key, newest)
    known = load_remembered(home, who)
    if known is not None and known.version >= feed.version:
        return
    doc = {
        "format": STATE_FORMAT,
        "key_id": who,
        "publisher_key_id": feed.key_id,
        "version": feed.version,
        "payload_sha256": verified.payload_sha256,
        "feed_cid": feed_cid,
        "gateways": list(feed.gateways),
        "remembered_at": format_time(utc_now()),
    }
    store.atomic_write(_state_path(home, who), canonjson.dumps(doc) + b"\n", label="feed-state")


# -- the publisher's own feed files ---------------------------------------------------


def feed_file(home: Home) -> Path:
    return home.feed_dir / FEED_NAME


def head_file(home: Home) -> Path:
    return home.feed_dir / HEAD_NAME


def load_own_feed(home: Home, trusted: Sequence[TrustedKey]) -> tuple[VerifiedFeed, bytes] | None:
    """This data directory's current feed (verified with its own keys), if any."""
    path = feed_file(home)
    if not path.exists():
        return None
    data = store.read_bytes(path, limit=MAX_FEED_FILE, what="feed")
    return verify_feed(data, trusted, home=home), data


# -- the publisher's verifier page, as the next feed will name it -------------------------


def verifier_file(home: Home) -> Path:
    return home.feed_dir / "verifier.json"


def load_verifier_ref(home: Home) -> VerifierRef | None:
    """The verifier page this publisher pushed last (`mirror verifier --push`), if any."""
    path = verifier_file(home)
    if not path.exists():
        return None
    data = store.read_bytes(path, limit=4096, what="verifier.json")
    return VerifierRef.from_dict(canonjson.loads(data.rstrip(b"\n"), max_size=4096))


def save_verifier_ref(home: Home, ref: VerifierRef) -> None:
    store.atomic_write(
        verifier_file(home), canonjson.dumps(ref.to_dict()) + b"\n", label="verifier"
    )
