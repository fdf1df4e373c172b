"""The volunteer's follow loop: resolve a publisher's feed, verify it, pin and re-verify.

One round: resolve SOURCE (feed CID, IPNS name, head file or URL, or a head heard on
pubsub) -> verify the head and the feed (trusted signature, version never backward,
same version never different, not expired) -> pin new bundles newest first within
the budget -> export each pinned bundle from the node and verify it completely
(signature, every block, the root, and the manifest hash the feed lists) before
counting it mirrored; a bundle that fails is unpinned and recorded as failed.

The remembered feed version moves forward only after a round with no failure.
Verified roots are journaled (one fsynced line each) next to an atomic snapshot, so
a killed follower resumes without re-verifying and memory stays one small record
per bundle.
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
import urllib3

from . import canonjson, feed, gateway, store
from .clock import sha256_tag
from .config import Home
from .errors import LimitExceeded, MirrorError, NetworkError, UsageError, VerificationError
from .ipfs import IpfsNode
from .ipld import car, unixfs
from .ipld.cid import CID
from .keys import TrustedKey
from .reader import load_trust, persist
from .store import scratch_dir
from .verify import check_car, manifest_sha256

FOLLOW_FORMAT = "mirror-follow/1"
MAX_JOURNAL = 64 << 20
CAR_SLACK = 1 << 20  # CAR framing on top of a bundle's declared DAG size
DEFAULT_PIN_TIMEOUT = 300.0
DEFAULT_HEAD_TIMEOUT = 30.0
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?i?b?)\s*$", re.I)
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$", re.I)
_UNITS = {"": 1, "b": 1, "k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12}

Log = Callable[[str], None]


def parse_size(text: str) -> int:
    """'500MB', '2GiB', '1000' -> bytes (k/M/G/T are powers of 1000, KiB... of 1024)."""
    match = _SIZE.match(text)
    if not match:
        raise UsageError(f"bad size {text!r}: use e.g. 500MB, 2GiB or a number of bytes")
    number, unit = float(match.group(1)), match.group(2).lower()
    base = unit[:1]
    factor = 1024 ** "bkmgt".index(base) if "i" in unit and base else _UNITS[base]
    return int(number * factor)


def parse_duration(text: str) -> float:
    """'30s', '5m', '1h', '1d', '250ms' or plain seconds -> seconds."""
    match = _DURATION.match(text)
    if not match:
        raise UsageError(f"bad duration {text!r}: use e.g. 30s, 5m, 1h or 1d")
    factor = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}[(match.group(2) or "s").lower()]
    seconds = float(match.group(1)) * factor
    if seconds <= 0:
        raise UsageError(f"duration must be positive: {text!r}")
    return seconds


# -- sources ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Source:
    kind: str  # "cid" | "ipns" | "file" | "url"
    value: str

    def __str__(self) -> str:
        return f"{self.kind} {self.value}"


def parse_source(text: str) -> Source:
    text = text.strip()
    if text.startswith(("http://", "https://")):
        return Source("url", text)
    if text.startswith(("/ipns/", "k51", "12D3Koo")):  # IPNS names: base36 key or peer ID
        return Source("ipns", text)
    candidate = text[len("/ipfs/") :] if text.startswith("/ipfs/") else text
    try:
        CID.decode(candidate)
    except UsageError:
        if Path(text).exists():
            return Source("file", text)
        raise UsageError(
            f"SOURCE {text!r} is not a feed CID, an IPNS name, a head file or an http(s) URL"
        ) from None
    return Source("cid", candidate)


def _read_url(url: str, timeout: float) -> bytes:
    """The head at `url`: at most MAX_HEAD bytes (exit 5) within `timeout` seconds in
    all (exit 4), however slowly the server trickles them."""
    deadline = time.monotonic() + timeout
    try:
        with requests.get(url, timeout=(timeout, timeout), stream=True) as response:
            if response.status_code != 200:
                raise NetworkError(f"{url}: HTTP {response.status_code}")
            data = bytearray()
            for chunk in gateway.read_chunks(response, 16 << 10):
                data += chunk
                if len(data) > feed.MAX_HEAD:
                    raise LimitExceeded(f"feed head at {url} is larger than {feed.MAX_HEAD} bytes")
                if time.monotonic() > deadline:
                    raise NetworkError(f"feed head at {url}: not complete within {timeout:g} s")
            return bytes(data)
    except (requests.RequestException, urllib3.exceptions.HTTPError) as exc:
        raise NetworkError(f"cannot fetch feed head {url}: {type(exc).__name__}") from exc


def read_head_bytes(source: Source, timeout: float = DEFAULT_HEAD_TIMEOUT) -> bytes:
    if source.kind == "file":
        return store.read_bytes(Path(source.value), limit=feed.MAX_HEAD, what="feed head file")
    if source.kind == "url":
        return _read_url(source.value, timeout)
    raise UsageError(f"{source} is not a head")


def fetch_feed(
    node: IpfsNode, home: Home, feed_cid: CID, trusted: Sequence[TrustedKey]
) -> feed.VerifiedFeed:
    """Export the feed file from the node (capped) and verify it; nothing is trusted before."""
    with scratch_dir(home) as work:
        path = work / "feed.car"
        try:
            with open(path, "wb") as out:
                node.dag_export(feed_cid, out, max_bytes=feed.MAX_FEED_FILE + CAR_SLACK)
        except OSError as exc:
            raise store.storage_error(exc, path) from exc
        with car.open_car(path, root=feed_cid) as blocks:
            entries = unixfs.walk(blocks, feed_cid)
            root = next(entries)
            if root.kind != "file":
                raise UsageError(f"{feed_cid} is a folder, not a feed file")
            if root.size > feed.MAX_FEED_FILE:
                raise LimitExceeded(f"feed file is larger than {feed.MAX_FEED_FILE} bytes")
            data = b"".join(root.chunks())
    return feed.verify_feed(data, trusted, home=home)


# -- follower state ----------------------------------------------------------------------


@dataclass
class FollowState:
    """Per-publisher follower state: verified and failed roots, snapshot + journal."""

    home: Home
    key_id: str
    verified: dict[str, tuple[int, str]] = field(default_factory=dict)  # root -> (size, sha)
    failed: dict[str, str] = field(default_factory=dict)  # root -> reason

    @property
    def snapshot_path(self) -> Path:
        return self.home.follow_dir / f"{self.key_id}.json"

    @property
    def journal_path(self) -> Path:
        return self.home.follow_dir / f"{self.key_id}.journal"

    @classmethod
    def load(cls, home: Home, key_id: str) -> FollowState:
        state = cls(home, key_id)
        if state.snapshot_path.exists():
            doc = canonjson.loads(
                store.read_bytes(state.snapshot_path, limit=MAX_JOURNAL, what="follow state"),
                max_size=MAX_JOURNAL,
                what="follow state",
            )
            if doc.get("format") != FOLLOW_FORMAT:
                raise UsageError(f"{state.snapshot_path} is not a follow state file")
            for root, item in (doc.get("verified") or {}).items():
                state.verified[root] = (int(item["size"]), str(item["manifest_sha256"]))
            state.failed.update({k: str(v) for k, v in (doc.get("failed") or {}).items()})
        if state.journal_path.exists():
            raw = store.read_bytes(state.journal_path, limit=MAX_JOURNAL, what="follow journal")
            for line in raw.split(b"\n")[:-1]:  # a torn last line (no newline) is ignored
                state._replay(line.decode("utf-8", "replace").split(" ", 3))
        return state

    def _replay(self, parts: list[str]) -> None:
        if len(parts) == 4 and parts[0] == "ok" and parts[2].isdigit():
            self.verified[parts[1]] = (int(parts[2]), parts[3])
            self.failed.pop(parts[1], None)
        elif len(parts) >= 2 and parts[0] == "fail":
            self.failed[parts[1]] = " ".join(parts[2:])
            self.verified.pop(parts[1], None)

    def _append(self, line: str) -> None:
        path = self.journal_path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "ab") as out:
                out.write(line.encode("utf-8") + b"\n")
                out.flush()
                os.fsync(out.fileno())
        except OSError as exc:
            raise store.storage_error(exc, path) from exc

    def mark_verified(self, root: str, size: int, digest: str) -> None:
        self._append(f"ok {root} {size} {digest}")
        self.verified[root] = (size, digest)
        self.failed.pop(root, None)

    def mark_failed(self, root: str, reason: str) -> None:
        one_line = " ".join(reason.split())[:300]
        self._append(f"fail {root} {one_line}")
        self.failed[root] = one_line
        self.verified.pop(root, None)

    @property
    def used_bytes(self) -> int:
        return sum(size for size, _ in self.verified.values())

    def compact(self) -> None:
        """Fold the journal into the snapshot (atomic), then drop the journal."""
        doc = {
            "format": FOLLOW_FORMAT,
            "key_id": self.key_id,
            "verified": {
                root: {"size": size, "manifest_sha256": sha}
                for root, (size, sha) in sorted(self.verified.items())
            },
            "failed": dict(sorted(self.failed.items())),
        }
        store.atomic_write(self.snapshot_path, canonjson.dumps(doc) + b"\n", label="follow-state")
        try:
            self.journal_path.unlink(missing_ok=True)
        except OSError as exc:
            raise store.storage_error(exc, self.journal_path) from exc


# -- one round -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FollowReport:
    publisher: str
    key_id: str
    feed_cid: str
    version: int
    entries: int
    pinned: int
    already: int
    failed: tuple[tuple[str, str], ...]
    unavailable: tuple[tuple[str, str], ...]
    skipped: int
    budget_reached: bool
    used_bytes: int
    budget: int | None
    version_remembered: bool
    verifier: str | None = None  # the feed's verifier page: "pinned", or why not

    @property
    def exit_code(self) -> int:
        if self.failed:
            return VerificationError.exit_code
        if self.unavailable:
            return NetworkError.exit_code
        return 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "publisher": self.publisher,
            "key_id": self.key_id,
            "feed_cid": self.feed_cid,
            "version": self.version,
            "entries": self.entries,
            "pinned": self.pinned,
            "already": self.already,
            "failed": [{"root_cid": r, "reason": why} for r, why in self.failed],
            "unavailable": [{"root_cid": r, "reason": why} for r, why in self.unavailable],
            "skipped_budget": self.skipped,
            "budget_reached": self.budget_reached,
            "used_bytes": self.used_bytes,
            "budget": self.budget,
            "version_remembered": self.version_remembered,
            "verifier": self.verifier,
        }


@dataclass(frozen=True, slots=True)
class FollowOptions:
    budget: int | None = None
    pin_timeout: float = DEFAULT_PIN_TIMEOUT
    head_timeout: float = DEFAULT_HEAD_TIMEOUT


def resolve(
    node: IpfsNode,
    home: Home,
    source: Source,
    trusted: Sequence[TrustedKey],
    head_timeout: float = DEFAULT_HEAD_TIMEOUT,
) -> tuple[CID, feed.Head | None]:
    """SOURCE -> (feed CID, the verified head if the source was a head)."""
    if source.kind == "cid":
        return CID.decode(source.value), None
    if source.kind == "ipns":
        return node.name_resolve(source.value), None
    verified = feed.verify_head(read_head_bytes(source, head_timeout), trusted, home=home)
    feed.check_head_against_remembered(home, verified)
    return CID.decode(verified.head.feed_cid), verified.head


def follow_round(
    node: IpfsNode,
    home: Home,
    feed_cid: CID,
    trusted: Sequence[TrustedKey],
    *,
    head: feed.Head | None = None,
    options: FollowOptions = FollowOptions(),
    log: Log = lambda _line: None,
    stop: StopSignal | None = None,
) -> FollowReport:
    """Verify the feed at `feed_cid`, pin and re-verify its bundles, report."""
    verified = fetch_feed(node, home, feed_cid, trusted)
    if head is not None:
        feed.check_head_matches(head, verified, feed_cid.encode())
    feed.check_against_remembered(home, verified)
    current = verified.feed
    log(
        f"feed {feed_cid.encode()} version {current.version} of {verified.signer.name} "
        f"({current.key_id}): {len(current.entries)} entries, expires {current.expires}"
    )
    node.pin_add(feed_cid, timeout=options.pin_timeout)  # volunteers keep the feed alive too
    # Keyed by the trusted key: a rotation of the signing keys keeps the state.
    state = FollowState.load(home, verified.anchor_id)
    pinned = already = skipped = 0
    failed: list[tuple[str, str]] = []
    unavailable: list[tuple[str, str]] = []
    budget_reached = False
    verifier = None
    if current.verifier is not None:
        verifier = _mirror_verifier(node, home, state, current.verifier, options, log)
        if verifier != "pinned":
            kind = unavailable if verifier.startswith("unavailable") else failed
            kind.append((current.verifier.cid, verifier))
    try:
        for index, entry in enumerate(current.entries):
            if stop is not None and stop.is_set():
                skipped += len(current.entries) - index
                break
            known = state.verified.get(entry.root_cid)
            if known is not None:
                if known[1] != entry.manifest_sha256:
                    why = "the feed lists another manifest hash than the bundle's (mix-and-match)"
                    failed.append((entry.root_cid, why))
                    log(f"FAILED   {entry.root_cid} {why}")
                    continue
                already += 1
                continue
            if options.budget is not None and state.used_bytes + entry.size > options.budget:
                budget_reached = True
                skipped += len(current.entries) - index
                log(f"budget   {options.budget} bytes reached: {skipped} bundle(s) not pinned")
                break
            outcome = _mirror_one(node, home, state, entry, trusted, options, log)
            if outcome is None:
                pinned += 1
            elif outcome[0] == "failed":
                failed.append((entry.root_cid, outcome[1]))
            else:
                unavailable.append((entry.root_cid, outcome[1]))
    finally:
        state.compact()
    remembered = not failed and not unavailable and not (stop is not None and stop.is_set())
    if remembered:
        feed.remember(home, verified, feed_cid.encode())
    return FollowReport(
        publisher=verified.signer.name,
        key_id=verified.anchor_id,
        feed_cid=feed_cid.encode(),
        version=current.version,
        entries=len(current.entries),
        pinned=pinned,
        already=already,
        failed=tuple(failed),
        unavailable=tuple(unavailable),
        skipped=skipped,
        budget_reached=budget_reached,
        used_bytes=state.used_bytes,
        budget=options.budget,
        version_remembered=remembered,
        verifier=verifier,
    )


def _mirror_verifier(
    node: IpfsNode,
    home: Home,
    state: FollowState,
    ref: feed.VerifierRef,
    options: FollowOptions,
    log: Log,
) -> str:
    """Pin the publisher's verifier page once its bytes match the feed's size and
    sha256 (every block checked against its CID on the way): "pinned", else why not."""
    known = state.verified.get(ref.cid)
    if known is not None and known[1] == ref.sha256:
        return "pinned"
    root = CID.decode(ref.cid)
    try:
        node.pin_add(root, timeout=options.pin_timeout)
        with scratch_dir(home) as work:
            path = work / "verifier.car"
            try:
                with open(path, "wb") as out:
                    node.dag_export(root, out, max_bytes=2 * ref.size + CAR_SLACK)
            except OSError as exc:
                raise store.storage_error(exc, path) from exc
            with car.open_car(path, root=root) as blocks:
                entries = list(unixfs.walk(blocks, root))
                if len(entries) != 1 or entries[0].kind != "file" or entries[0].size != ref.size:
                    raise VerificationError("the feed's verifier is not a file of the signed size")
                data = b"".join(entries[0].chunks())
        if len(data) != ref.size or sha256_tag(data) != ref.sha256:
            raise VerificationError("the feed's verifier differs from the hash the feed lists")
    except NetworkError as exc:
        log(f"UNAVAIL  verifier {ref.cid} {exc.message}")
        return f"unavailable: {exc.message}"
    except (VerificationError, UsageError, LimitExceeded) as exc:
        node.pin_rm(root)
        log(f"FAILED   verifier {ref.cid} {exc.reason}: {exc.message} (unpinned)")
        return f"{exc.reason}: {exc.message}"
    state.mark_verified(ref.cid, ref.size, ref.sha256)
    log(f"pinned   verifier {ref.cid} {ref.size} bytes")
    return "pinned"


def _mirror_one(
    node: IpfsNode,
    home: Home,
    state: FollowState,
    entry: feed.FeedEntry,
    trusted: Sequence[TrustedKey],
    options: FollowOptions,
    log: Log,
) -> tuple[str, str] | None:
    """Pin, export, verify one bundle. None when mirrored; else (kind, reason)."""
    root = CID.decode(entry.root_cid)
    try:
        node.pin_add(root, timeout=options.pin_timeout)
    except NetworkError as exc:
        log(f"UNAVAIL  {entry.root_cid} {exc.message}")
        return ("unavailable", exc.message)
    try:
        with scratch_dir(home) as work:
            path = work / "bundle.car"
            try:
                with open(path, "wb") as out:
                    node.dag_export(root, out, max_bytes=2 * entry.size + CAR_SLACK)
            except OSError as exc:
                raise store.storage_error(exc, path) from exc
            verdict = check_car(path, load_trust(home, trusted), root=root)
        if manifest_sha256(verdict) != entry.manifest_sha256:
            raise VerificationError(
                "the bundle's manifest differs from the hash the feed lists (mix-and-match)"
            )
        persist(home, verdict)  # the identity memory moves only for a bundle that counts
    except NetworkError as exc:
        log(f"UNAVAIL  {entry.root_cid} {exc.message}")
        return ("unavailable", exc.message)
    except (VerificationError, UsageError, LimitExceeded) as exc:
        node.pin_rm(root)
        state.mark_failed(entry.root_cid, f"{exc.reason}: {exc.message}")
        log(f"FAILED   {entry.root_cid} {exc.reason}: {exc.message} (unpinned)")
        return ("failed", f"{exc.reason}: {exc.message}")
    state.mark_verified(entry.root_cid, entry.size, entry.manifest_sha256)
    log(f"pinned   {entry.root_cid} {entry.size} bytes  {entry.title[:60]}")
    return None


def follow_source(
    node: IpfsNode,
    home: Home,
    source: Source,
    trusted: Sequence[TrustedKey],
    *,
    options: FollowOptions = FollowOptions(),
    log: Log = lambda _line: None,
    stop: StopSignal | None = None,
) -> FollowReport:
    """One complete round from SOURCE."""
    feed_cid, head = resolve(node, home, source, trusted, options.head_timeout)
    return follow_round(
        node, home, feed_cid, trusted, head=head, options=options, log=log, stop=stop
    )


# -- pubsub ------------------------------------------------------------------------------


def listen_heads(
    node: IpfsNode,
    home: Home,
    trusted: Sequence[TrustedKey],
    *,
    timeout: float,
    log: Log,
    stop: StopSignal | None = None,
) -> Generator[feed.Head, None, None]:
    """Heads on the trusted publisher's topic that verify and are not older than what
    is remembered; forged and stale ones are skipped with a warning. Ends at `timeout`
    (the subscription is open once the first value is requested)."""
    topic = feed.topic_for(trusted[0].key.key_id)
    messages = node.pubsub_subscribe(topic, timeout=timeout)
    try:
        for message in messages:
            if stop is not None and stop.is_set():
                return
            try:
                verified = feed.verify_head(message, trusted, home=home)
            except MirrorError as exc:
                log(f"warning: ignored feed head on {topic}: {exc.message}")
                continue
            try:
                feed.check_head_against_remembered(home, verified)
            except VerificationError as exc:
                log(f"warning: ignored stale feed head on {topic}: {exc.message}")
                continue
            yield verified.head
    finally:
        close = getattr(messages, "close", None)
        if close is not None:
            close()


# -- the loop ------------------------------------------------------------------------------


class Stopped(BaseException):
    """Ends a follow loop cleanly (raised only while the loop is waiting)."""


class StopSignal:
    """Set from a signal handler. During a round the request is only noted (the round
    stops between bundles and still reports); while waiting it interrupts the wait."""

    def __init__(self) -> None:
        self.requested = False
        self.interruptible = False

    def is_set(self) -> bool:
        return self.requested

    def request(self) -> None:
        self.requested = True
        if self.interruptible:
            raise Stopped()

    @contextlib.contextmanager
    def waiting(self) -> Iterator[None]:
        if self.requested:
            raise Stopped()
        self.interruptible = True
        try:
            yield
        finally:
            self.interruptible = False


@dataclass(frozen=True, slots=True)
class LoopOptions:
    once: bool = True
    interval: float = 3600.0
    pubsub: bool = False
    wait: float = 60.0  # --once with --pubsub: how long to listen for a head
    max_rounds: int = 1_000_000


def run(
    node: IpfsNode,
    home: Home,
    source: Source | None,
    trusted: Sequence[TrustedKey],
    *,
    loop: LoopOptions = LoopOptions(),
    options: FollowOptions = FollowOptions(),
    log: Log = lambda _line: None,
    stop: StopSignal | None = None,
) -> list[FollowReport]:
    """Follow from SOURCE and/or pubsub heads, once or every `interval` seconds.

    With once=True a failure raises (its exit code is the command's); in a loop a
    failed round is logged and the next one tries again. A Stopped exception (from
    the signal handler) ends the loop after the current step; the state on disk is
    always consistent, since every write is atomic or a journal line.
    """
    if source is None and not loop.pubsub:
        raise UsageError("give a SOURCE (feed CID, IPNS name, head file or URL) or --pubsub")
    reports: list[FollowReport] = []
    stop = stop or StopSignal()
    try:
        for _ in range(loop.max_rounds):
            if stop.is_set():
                raise Stopped()
            if source is not None:
                _guarded(
                    loop.once,
                    log,
                    lambda: reports.append(
                        follow_source(
                            node, home, source, trusted, options=options, log=log, stop=stop
                        )
                    ),
                )
            if loop.pubsub:
                listen = loop.wait if loop.once else loop.interval
                heard = _listen_once(node, home, trusted, listen, loop, options, log, reports, stop)
                if loop.once and not heard and source is None:
                    raise NetworkError(
                        f"no valid feed head heard on {feed.topic_for(trusted[0].key.key_id)} "
                        f"within {listen:g} s"
                    )
            if loop.once:
                break
            if not loop.pubsub:
                with stop.waiting():
                    threading.Event().wait(loop.interval)
    except Stopped:
        log("stopped")
    return reports


def _guarded(once: bool, log: Log, step: Callable[[], None]) -> None:
    if once:
        step()
        return
    try:
        step()
    except MirrorError as exc:
        log(f"round failed (exit {exc.exit_code}): {exc.message}")


def _listen_once(
    node: IpfsNode,
    home: Home,
    trusted: Sequence[TrustedKey],
    seconds: float,
    loop: LoopOptions,
    options: FollowOptions,
    log: Log,
    reports: list[FollowReport],
    stop: StopSignal,
) -> bool:
    """Listen for heads for `seconds`; run a round per valid head (the first only, once).

    Only the wait for a message is interruptible; a round runs to its end."""
    log(f"listening on {feed.topic_for(trusted[0].key.key_id)} for {seconds:g} s")
    heads = listen_heads(node, home, trusted, timeout=seconds, log=log)
    try:
        while True:
            with stop.waiting():
                head = next(heads, None)
            if head is None:
                return False
            log(f"head: feed {head.feed_cid} version {head.version}")
            _guarded(
                loop.once,
                log,
                lambda h=head: reports.append(  # type: ignore[misc]
                    follow_round(
                        node,
                        home,
                        CID.decode(h.feed_cid),
                        trusted,
                        head=h,
                        options=options,
                        log=log,
                        stop=stop,
                    )
                ),
            )
            if loop.once:
                return True
    finally:
        heads.close()
