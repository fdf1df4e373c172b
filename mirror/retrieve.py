"""Getting a bundle's bytes by CID: local CAR cache, then the IPFS node, then gateways.

Every source is untrusted transport. A copy counts only when verify_car accepts it
(each block hashed against its CID, reachable from the CID asked for, the manifest
signed by a trusted key, every file's hash); a source whose bytes do not verify is
skipped with a warning and never written anywhere but a temp file that is removed.
Gateways are raced in parallel under one deadline; the first verified copy wins and
the others are cancelled. The verified CAR is kept in HOME/cache/car/<cid>.car.
"""

from __future__ import annotations

import contextlib
import os
import queue
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

from . import gateway as gateway_mod
from . import store
from .config import Home
from .errors import LimitExceeded, MirrorError, NetworkError, UsageError, VerificationError
from .ipld.cid import CID
from .verify import Trust, Verdict, check_car

DEFAULT_DEADLINE = 120.0
MAX_CAR = 1 << 30
MAX_GATEWAYS = 16
Progress = Callable[[str], None]


class Node(Protocol):
    """What retrieval needs from an IPFS node (mirror.ipfs.IpfsNode fits)."""

    api: str

    def pin_add(self, cid: CID, *, timeout: float | None = None) -> None: ...

    def dag_export(
        self, cid: CID, out: BinaryIO, *, max_bytes: int, timeout: float | None = None
    ) -> None: ...


@dataclass(frozen=True, slots=True)
class Attempt:
    source: str  # "cache", "node <api>", "gateway <url>"
    ok: bool
    detail: str
    exit_code: int = 0
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class Fetched:
    car: Path  # the verified CAR in the cache
    verdict: Verdict
    source: str
    attempts: tuple[Attempt, ...]


def cache_path(home: Home, cid: CID) -> Path:
    return home.car_cache_dir / f"{cid.encode()}.car"


@contextlib.contextmanager
def _spool(directory: Path) -> Iterator[tuple[Path, BinaryIO]]:
    """A named temp file in the cache folder, removed unless the caller renamed it."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=".get-", suffix=".car", dir=directory)
    except OSError as exc:
        raise store.storage_error(exc, directory) from exc
    path = Path(name)
    try:
        with os.fdopen(fd, "w+b") as fh:
            yield path, fh
    finally:
        path.unlink(missing_ok=True)


def _keep(tmp: Path, final: Path) -> None:
    """Make a verified spool file the cached copy: fsync it before the rename, so a
    crash leaves the old cache entry (or none) or the complete new one."""
    try:
        store.kill_point("car-cache", "temp-written")
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        store.kill_point("car-cache", "fsynced")
        os.replace(tmp, final)
        store.kill_point("car-cache", "renamed")
    except OSError as exc:
        raise store.storage_error(exc, final) from exc
    store.fsync_dir(final.parent)


def _dedupe(urls: Sequence[str]) -> list[str]:
    seen: dict[str, None] = {}
    for url in urls:
        seen.setdefault(gateway_mod.check_gateway(url), None)
    return list(seen)[:MAX_GATEWAYS]


def fetch_verified(
    home: Home,
    cid: CID,
    trust: Trust,
    *,
    node: Node | None = None,
    gateways: Sequence[str] = (),
    feed_gateways: Sequence[str] = (),
    deadline: float = DEFAULT_DEADLINE,
    max_bytes: int = MAX_CAR,
    progress: Progress = lambda message: None,
    use_cache: bool = True,
) -> Fetched:
    """A verified CAR of `cid` from the first source that delivers one.

    `gateways` (the user's) and `feed_gateways` (from the publisher's signed feed)
    are raced together after the cache and the node. Raises VerificationError (3)
    when some source answered but nothing verified, else NetworkError (4).
    """
    urls = _dedupe([*gateways, *feed_gateways])
    final = cache_path(home, cid)
    attempts: list[Attempt] = []
    end = time.monotonic() + deadline

    if use_cache and final.is_file():
        try:
            verdict = check_car(final, trust, root=cid)
            progress(f"found {cid} in the local cache")
            return Fetched(final, verdict, "cache", (Attempt("cache", True, "verified"),))
        except MirrorError as exc:
            attempts.append(Attempt("cache", False, exc.message, exc.exit_code, exc.reason))
            progress(f"warning: the cached copy does not verify ({exc.message}); fetching again")

    if node is not None:
        source = f"node {node.api}"
        progress(f"asking the IPFS node at {node.api} (pinning, then exporting)")
        try:
            with _spool(final.parent) as (tmp, fh):
                node.pin_add(cid, timeout=max(1.0, end - time.monotonic()))
                node.dag_export(
                    cid, fh, max_bytes=max_bytes, timeout=max(1.0, end - time.monotonic())
                )
                fh.flush()
                verdict = check_car(tmp, trust, root=cid)
                _keep(tmp, final)
            progress(f"got {cid} from the node; every block verified")
            attempts.append(Attempt(source, True, "verified"))
            return Fetched(final, verdict, source, tuple(attempts))
        except MirrorError as exc:
            attempts.append(Attempt(source, False, exc.message, exc.exit_code, exc.reason))
            if isinstance(exc, VerificationError):
                progress(f"warning: the node returned bytes that do not verify: {exc.message}")
            else:
                progress(f"warning: the node failed: {exc.message}")

    if urls:
        won = _race(home, cid, trust, urls, final, end, max_bytes, progress, attempts)
        if won is not None:
            return won

    raise _failure(cid, attempts)


def _race(
    home: Home,
    cid: CID,
    trust: Trust,
    urls: list[str],
    final: Path,
    end: float,
    max_bytes: int,
    progress: Progress,
    attempts: list[Attempt],
) -> Fetched | None:
    cancel = threading.Event()
    lock = threading.Lock()

    def one(url: str) -> Verdict:
        with _spool(final.parent) as (tmp, fh):
            gateway_mod.fetch_car(
                url,
                cid,
                fh,
                max_bytes=max_bytes,
                timeout=max(1.0, end - time.monotonic()),
                cancel=cancel,
            )
            fh.flush()
            verdict = check_car(tmp, trust, root=cid)
            with lock:  # the first verified copy wins; later ones are dropped
                if cancel.is_set():
                    raise gateway_mod.Cancelled(f"gateway {url}: another source won")
                cancel.set()
                _keep(tmp, final)
            return verdict

    progress(f"racing {len(urls)} gateway(s) for {cid}")
    results: queue.Queue[tuple[str, Verdict | MirrorError]] = queue.Queue()

    def run(url: str) -> None:
        try:
            results.put((url, one(url)))
        except MirrorError as exc:
            results.put((url, exc))
        except Exception as exc:  # a bug in one racer must not hang the race
            results.put((url, MirrorError(f"gateway {url}: {type(exc).__name__}: {exc}")))

    # Daemon threads: a gateway stalled in a read cannot keep the process alive once
    # another source has won; it stops at its own timeout or with the process.
    for url in urls:
        threading.Thread(target=run, args=(url,), daemon=True, name="gateway").start()
    waiting = set(urls)
    try:
        while waiting:
            try:
                url, outcome = results.get(timeout=max(0.0, end - time.monotonic()))
            except queue.Empty:
                for url in sorted(waiting):
                    attempts.append(Attempt(f"gateway {url}", False, "deadline passed", 4))
                    progress(f"warning: gateway {url} did not finish before the deadline")
                return None
            waiting.discard(url)
            if isinstance(outcome, gateway_mod.Cancelled):
                continue
            if isinstance(outcome, MirrorError):
                attempts.append(
                    Attempt(
                        f"gateway {url}", False, outcome.message, outcome.exit_code, outcome.reason
                    )
                )
                if isinstance(outcome, VerificationError):
                    progress(
                        f"warning: gateway {url} sent bytes that do not verify, skipped: "
                        f"{outcome.message}"
                    )
                else:
                    progress(f"warning: gateway {url} failed: {outcome.message}")
                continue
            attempts.append(Attempt(f"gateway {url}", True, "verified"))
            progress(f"got {cid} from gateway {url}; every block verified")
            return Fetched(final, outcome, f"gateway {url}", tuple(attempts))
        return None
    finally:
        cancel.set()


def _failure(cid: CID, attempts: list[Attempt]) -> MirrorError:
    """One error for a fetch where no source delivered: a copy that did not verify
    outranks a limit or malformed input, which outrank network trouble; the error
    keeps the reason the deciding source gave."""
    if not attempts:
        return NetworkError(
            f"no source for {cid}: not cached, no node, no gateway (give --api or --gateway URL)"
        )
    summary = "; ".join(f"{a.source}: {a.detail}" for a in attempts)[:2000]
    codes = {a.exit_code for a in attempts}
    ranked: tuple[tuple[type[MirrorError], str], ...] = (
        (VerificationError, f"no copy of {cid} verifies ({summary})"),
        (LimitExceeded, f"no usable copy of {cid} ({summary})"),
        (UsageError, f"no usable copy of {cid} ({summary})"),
    )
    for cls, message in ranked:
        hit = next((a for a in attempts if a.exit_code == cls.exit_code), None)
        if hit is not None and (cls is VerificationError or NetworkError.exit_code not in codes):
            return cls(message, reason=hit.reason)
    return NetworkError(f"could not get {cid} ({summary})")
