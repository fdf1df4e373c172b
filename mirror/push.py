"""Push bundles and the publisher's feed to an IPFS node, and remember what was published.

A bundle goes to the node as a CAR (`dag/import` with root pinning), so the node
never re-chunks; the root the node reports is compared, decoded, with the root we
computed, and a mismatch is a VerificationError with nothing recorded. Bundles
signed by this data directory's keys are recorded in published.json, which is what
`feed publish` lists. The feed is one UnixFS file (the signed envelope) pushed the
same way, then announced by a signed head over IPNS, pubsub and a head file.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from . import canonjson, feed, identity, keys, store
from .clock import format_time, sha256_tag
from .config import Home
from .errors import LimitExceeded, MirrorError, NetworkError, UsageError, VerificationError
from .identity_state import home_chain
from .ipfs import IpfsNode
from .ipld import car, unixfs
from .ipld.cid import CID
from .keys import TrustedKey
from .reader import load_trust
from .signer import Signer
from .store import scratch_dir
from .verify import Verdict, check_car, dag_size, manifest_sha256

PUBLISHED_FORMAT = "mirror-published/1"
MAX_PUBLISHED_FILE = 128 << 20


# -- published.json ---------------------------------------------------------------


def load_published(home: Home) -> list[feed.FeedEntry]:
    """Bundles this data directory has published, oldest first."""
    path = home.published_file
    if not path.exists():
        return []
    doc = canonjson.loads(
        store.read_bytes(path, limit=MAX_PUBLISHED_FILE, what="published.json"),
        max_size=MAX_PUBLISHED_FILE,
        what="published.json",
    )
    if doc.get("format") != PUBLISHED_FORMAT or not isinstance(doc.get("bundles"), list):
        raise UsageError(f"{path} is not a published-bundles file")
    return [feed.FeedEntry.from_dict(item) for item in doc["bundles"]]


def record_published(home: Home, entry: feed.FeedEntry) -> bool:
    """Add `entry` (a root not yet listed); returns False when it was already there."""
    entries = load_published(home)
    wanted = CID.decode(entry.root_cid)
    if any(CID.decode(e.root_cid) == wanted for e in entries):
        return False
    entries.append(entry)
    if len(entries) > feed.MAX_ENTRIES:
        raise LimitExceeded(f"more than {feed.MAX_ENTRIES} published bundles")
    doc = {"format": PUBLISHED_FORMAT, "bundles": [e.to_dict() for e in entries]}
    store.atomic_write(home.published_file, canonjson.dumps(doc) + b"\n", label="published")
    return True


def publisher_keys(home: Home) -> list[TrustedKey]:
    """Own keys plus every key of this data directory's identity (its own feeds may have
    been signed by keys rotated out and no longer held here)."""
    found = keys.own_keys(home)
    chain = home_chain(home)
    if chain is not None:
        held = {t.key for t in found}
        found += [TrustedKey(chain.name, k, "") for k in chain.all_keys() if k not in held]
    return found


def stable_key_id(signer: Signer) -> str:
    """The key id naming the publisher's IPNS key and pubsub topic: the first key of
    identity version 1, so the names survive rotations."""
    if signer.chain is not None:
        first = identity.parse_chain(signer.chain)[0]
        return identity.Identity.from_bytes(first.payload).keys[0].key_id
    return signer.key.public.key_id


def _chain_object(signer: Signer) -> dict[str, Any] | None:
    if signer.chain is None:
        return None
    return canonjson.loads(signer.chain.rstrip(b"\n"), max_size=identity.MAX_CHAIN)


# -- push ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PushResult:
    root_cid: str
    size: int
    already_pinned: bool
    recorded: bool  # newly added to published.json
    title: str
    url: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "root_cid": self.root_cid,
            "size": self.size,
            "already_pinned": self.already_pinned,
            "recorded": self.recorded,
            "title": self.title,
            "url": self.url,
        }


def import_checked(node: IpfsNode, car_path: Path, root: CID) -> None:
    """dag/import with pinning; the node must report exactly our root (else exit 3)."""
    roots = node.dag_import(car_path, pin=True)
    if roots != [root]:
        said = ", ".join(r.encode() for r in roots) or "no root"
        raise VerificationError(
            f"IPFS node at {node.api} reported root {said}, but the root computed locally is "
            f"{root.encode()}: nothing recorded"
        )


def _entry(verdict: Verdict, digest: str, size: int) -> feed.FeedEntry:
    published = verdict.manifest.article.published
    return feed.FeedEntry(
        root_cid=verdict.root_cid,
        url=verdict.manifest.url,
        title=verdict.manifest.title,
        published=published,
        captured_at=verdict.manifest.captured_at,
        manifest_sha256=digest,
        size=size,
        stamped_at=format_time(verdict.timestamp.time) if verdict.timestamp else None,
    )


def push(node: IpfsNode, home: Home, target: Path, *, record: bool = True) -> PushResult:
    """Push a bundle folder or CAR; record it in published.json (when signed by our keys).

    The bundle is verified first against this data directory's keys (with
    record=False any valid CAR/folder is pushed and nothing is recorded).
    """
    target = Path(target)
    if not target.exists():
        raise UsageError(f"no such bundle folder or CAR file: {target}")
    with scratch_dir(home) as work:
        if target.is_dir():
            car_path = work / "bundle.car"
            root = car.write_car(target, car_path).root
        else:
            car_path = target
            with car.open_car(car_path) as blocks:
                root = blocks.root
        signers = keys.own_keys(home) if record else []
        if signers:
            verdict = check_car(car_path, load_trust(home, signers), root=root)
            entry: feed.FeedEntry | None = _entry(
                verdict, manifest_sha256(verdict), dag_size(car_path, root)
            )
        elif record:
            raise UsageError(
                "this data directory has no key: run `mirror keygen` or use --no-record"
            )
        else:
            entry = None
        already = node.is_pinned(root)
        if not already:
            import_checked(node, car_path, root)
        recorded = record_published(home, entry) if entry is not None else False
        size = entry.size if entry else dag_size(car_path, root)
    return PushResult(
        root.encode(),
        size,
        already,
        recorded,
        entry.title if entry else "",
        entry.url if entry else "",
    )


# -- the feed ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FeedPublishResult:
    feed_cid: str
    version: int
    entries: int
    expires: str
    ipns_name: str | None
    pubsub_topic: str | None
    head_file: Path
    warnings: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "feed_cid": self.feed_cid,
            "version": self.version,
            "entries": self.entries,
            "expires": self.expires,
            "ipns_name": self.ipns_name,
            "pubsub_topic": self.pubsub_topic,
            "head_file": str(self.head_file),
            "warnings": list(self.warnings),
        }


def push_feed(
    node: IpfsNode,
    home: Home,
    signer: Signer,
    *,
    ttl: timedelta = feed.DEFAULT_TTL,
    gateways: Sequence[str] = (),
    announce: bool = True,
) -> FeedPublishResult:
    """Sign the next feed (every published bundle, newest first), push it, announce it.

    The feed and head files are written only after the node holds the feed, so the
    head on disk never names a feed the node does not have. IPNS and pubsub are
    best effort: what fails there becomes a warning, not an error.
    """
    current = feed.load_own_feed(home, publisher_keys(home))
    previous = current[0].feed if current else None
    previous_cid = unixfs.file_cid(current[1]).encode() if current else None
    entries = list(reversed(load_published(home)))
    new = feed.build_feed(
        signer.keys,
        entries,
        previous=previous,
        previous_cid=previous_cid,
        ttl=ttl,
        gateways=gateways,
        chain=_chain_object(signer),
        verifier=feed.load_verifier_ref(home),
    )
    data = feed.sign_feed(new, signer.keys, stamp=signer.stamp)
    with scratch_dir(home) as work:
        (work / "feed.json").write_bytes(data)
        root = car.write_car(work / "feed.json", work / "feed.car").root
        import_checked(node, work / "feed.car", root)
    feed_cid = root.encode()
    head_bytes = feed.sign_head(feed.head_for(new, feed_cid), signer.keys)
    history = home.feed_dir / "history"
    store.atomic_write(history / f"{new.version}.json", data, label="feed-history")
    store.atomic_write(history / f"{new.version}.head.json", head_bytes, label="feed-history")
    store.atomic_write(feed.feed_file(home), data, label="feed")
    store.atomic_write(feed.head_file(home), head_bytes, label="feed-head")
    warnings: list[str] = []
    ipns_name = topic = None
    if announce:
        ipns_name, topic = _announce(node, stable_key_id(signer), root, head_bytes, ttl, warnings)
    return FeedPublishResult(
        feed_cid,
        new.version,
        len(entries),
        new.expires,
        ipns_name,
        topic,
        feed.head_file(home),
        tuple(warnings),
    )


def _announce(
    node: IpfsNode,
    key_id: str,
    root: CID,
    head_bytes: bytes,
    ttl: timedelta,
    warnings: list[str],
) -> tuple[str | None, str | None]:
    info = node.info()
    ipns_name = topic = None
    if info.supports_ipns:
        name = feed.ipns_key_name(key_id)
        try:
            if name not in node.key_list():
                node.key_gen(name)
            hours = max(1, int(ttl.total_seconds() // 3600))
            ipns_name = node.name_publish(root, key=name, lifetime=f"{hours}h")
        except MirrorError as exc:
            warnings.append(f"IPNS publish failed: {exc.message}")
    else:
        warnings.append(f"{info.label} has no IPNS key store: feed not named by IPNS")
    if info.supports_pubsub:
        topic = feed.topic_for(key_id)
        try:
            node.pubsub_publish(topic, head_bytes)
        except NetworkError as exc:
            warnings.append(f"pubsub announce not delivered: {exc.message}")
    else:
        warnings.append(f"{info.label} has pubsub disabled: head not announced on pubsub")
    return ipns_name, topic


def announce_head(node: IpfsNode, head_bytes: bytes, key_id: str) -> None:
    """Send a head envelope on the publisher's pubsub topic (errors are the caller's)."""
    node.pubsub_publish(feed.topic_for(key_id), head_bytes)


def publish_bundles(
    node: IpfsNode,
    home: Home,
    bundles: Sequence[Path],
    signer: Signer,
    *,
    ttl: timedelta = feed.DEFAULT_TTL,
    log: Callable[[str], None] = lambda _line: None,
) -> tuple[list[PushResult], FeedPublishResult]:
    """Push each captured bundle folder, then sign, push and announce the next feed."""
    results = []
    for folder in bundles:
        result = push(node, home, folder)
        log(f"{'already pinned' if result.already_pinned else 'pushed'} {result.root_cid}")
        results.append(result)
    return results, push_feed(node, home, signer, ttl=ttl)


def push_verifier(node: IpfsNode, home: Home, page: Path) -> feed.VerifierRef:
    """Put the verifier page on the node (as a CAR, root compared) and record it, so
    the next `mirror feed publish` names it for followers to pin."""
    data = store.read_bytes(Path(page), limit=feed.MAX_VERIFIER, what="verifier page")
    with scratch_dir(home) as work:
        (work / "verify.html").write_bytes(data)
        root = car.write_car(work / "verify.html", work / "verify.car").root
        import_checked(node, work / "verify.car", root)
    ref = feed.VerifierRef(root.encode(), sha256_tag(data), len(data))
    feed.save_verifier_ref(home, ref)
    return ref
