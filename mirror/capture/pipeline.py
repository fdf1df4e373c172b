"""Capture article URLs into signed bundles: one URL end to end, or a batch.

One capture: fetch (safe Fetcher) -> decode -> extract -> sanitize -> fetch images
(same Fetcher, image limits, within what is left of the page's time budget) ->
render the reader page -> write the signed bundle -> write the CAR beside it
(``<bundle>.car``, never inside). The whole capture of one page stays inside
``CaptureSettings.page_budget`` seconds of network waiting even when no image host
answers.

A batch runs captures on a thread pool (and extracts the articles on worker
processes when it is given them: ``workers.ExtractWorkers``). One URL failing never
stops the others; each outcome carries its error and exit code. What was captured
is remembered in the data directory (``captures.json``: URL -> sha256 of the fetched
body, root CID, bundle path), so a re-run fetches each page again but skips building
a bundle whose source bytes are unchanged and whose bundle and CAR are still where
they were written.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import socket
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

from mirror import minisign, store
from mirror.bundle import write_bundle
from mirror.capture.assets import fetch_images
from mirror.capture.charset import decode_html
from mirror.capture.content import article_fields, image_record, reader_content
from mirror.capture.extract import Article, extract_article
from mirror.capture.fetch import Fetcher, FetchPolicy, FetchResult
from mirror.capture.sanitize import sanitize_article
from mirror.clock import now_text, sha256_tag
from mirror.errors import MirrorError, UsageError
from mirror.signer import Signer

__all__ = [
    "BatchReport",
    "CachingResolver",
    "CaptureSettings",
    "CaptureState",
    "Captured",
    "Outcome",
    "batch_fetcher",
    "bundle_name",
    "capture_url",
    "car_path",
    "document_fetch",
    "extract_processes",
    "gather_urls",
    "plan_targets",
    "read_urls_file",
    "run_batch",
]

MiB = 1024 * 1024
HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
IMAGE_ACCEPT = "image/avif,image/webp,image/png,image/jpeg,image/gif;q=0.9,*/*;q=0.1"
MAX_BATCH = 10_000
# Time kept back from the page budget for extraction, signing and writing files.
_WRITE_MARGIN = 5.0
_MIN_IMAGE_WAIT = 2.0
_MIN_EXTRACT_WAIT = 10.0
# trafilatura parses with one module-level lxml parser, and an lxml parser must not
# be used by two threads at once (it corrupts the heap). Batch threads therefore
# take turns for extraction; sanitizing (its own parser per call), fetching, images,
# rendering and writing stay parallel.
_PARSE_LOCK = threading.Lock()

# (decoded page, its URL, seconds it may take) -> its article
Extract = Callable[[str, str, float], Article]


def _extract_here(text: str, url: str, timeout: float) -> Article:
    """Extraction in this process, one thread at a time (not interruptible)."""
    with _PARSE_LOCK:
        return extract_article(text, url)


@dataclass(frozen=True, slots=True)
class CaptureSettings:
    """How one page is captured. Times in seconds, sizes in bytes."""

    policy: FetchPolicy = field(default_factory=FetchPolicy)
    keep_source: bool = True  # source/page.raw: the bytes as fetched
    page_budget: float = 55.0  # network waiting for one page and its images
    max_images: int = 40
    image_max_bytes: int = 5 * MiB
    image_total_bytes: int = 25 * MiB
    image_max_pixels: int = 40_000_000
    image_workers: int = 6


@dataclass(frozen=True, slots=True)
class Captured:
    url: str  # as requested
    path: Path  # the bundle folder
    car: Path
    root: str  # root CID, base32
    body_sha256: str  # "sha256:<hex>" of the fetched body
    title: str
    missing_images: int


def car_path(bundle: Path) -> Path:
    """The CAR of a bundle: beside the folder, named after it."""
    return bundle.with_name(bundle.name + ".car")


@functools.cache
def _extractor_version() -> str:
    try:
        from importlib.metadata import version

        return f"trafilatura {version('trafilatura')}"
    except Exception:  # metadata missing in an odd install: not worth failing for
        return "trafilatura"


def _check_html(fetched: FetchResult) -> None:
    mime = fetched.content_type
    if mime is not None and mime not in HTML_TYPES:
        raise UsageError(f"{fetched.final_url} is not a web page (content type {mime})")


def capture_url(
    url: str,
    out: Path,
    *,
    signer: Signer,
    fetcher: Fetcher,
    settings: CaptureSettings | None = None,
    fetched: FetchResult | None = None,
    started: float | None = None,
    extract: Extract | None = None,
) -> Captured:
    """Capture ``url`` into the bundle folder ``out`` and its CAR; see the module doc.

    ``fetched`` lets a caller that already fetched the page (the batch runner, to
    compare bytes with the last capture) skip the second request; ``started`` is then
    when that fetch began (monotonic clock), so the page's time budget counts it.
    ``signer`` signs (with a publisher identity: a threshold of its keys, and the
    bundle carries its chain, as `mirror bundle` does). ``extract`` runs the
    extraction elsewhere (a batch's worker processes); by default it runs here.
    """
    settings = settings or CaptureSettings()
    started = time.monotonic() if started is None else started
    if fetched is None:
        fetched = fetcher.fetch(url)
    _check_html(fetched)
    text, encoding = decode_html(fetched.body, fetched.headers.get("content-type"))
    # parsing is not network waiting, but it is bounded all the same
    extract_wait = max(_MIN_EXTRACT_WAIT, settings.page_budget - (time.monotonic() - started))
    article = (extract or _extract_here)(text, fetched.final_url, extract_wait)
    sanitized = sanitize_article(article.content_html, fetched.final_url)

    def fetch_image(image_url: str) -> tuple[bytes, str | None]:
        got = fetcher.fetch(image_url, accept=IMAGE_ACCEPT, max_bytes=settings.image_max_bytes)
        return got.body, got.content_type

    left = settings.page_budget - (time.monotonic() - started) - _WRITE_MARGIN
    images = fetch_images(
        sanitized.images,
        fetch_image,
        max_images=settings.max_images,
        max_bytes_each=settings.image_max_bytes,
        max_total=settings.image_total_bytes,
        max_pixels=settings.image_max_pixels,
        deadline_s=max(_MIN_IMAGE_WAIT, left),
        workers=settings.image_workers,
    )
    content = reader_content(
        article,
        sanitized,
        images,
        source_url=fetched.final_url,
        captured_at=fetched.fetched_at,
        key_id=signer.key.public.key_id,
    )
    if settings.keep_source:
        content["source/page.raw"] = fetched.body
    body_sha = sha256_tag(fetched.body)
    provenance: dict[str, Any] = {
        "origin": "http",
        "requested_url": fetched.requested_url,
        "final_url": fetched.final_url,
        "redirects": list(fetched.redirects),
        "fetched_at": fetched.fetched_at,
        "http_status": fetched.status,
        "headers": dict(sorted(fetched.headers.items())),
        "tls_cert_sha256": fetched.tls_cert_sha256,
        "content_type": fetched.content_type,
        "charset_declared": fetched.charset,
        "charset": encoding,
        "body_size": len(fetched.body),
        "body_sha256": body_sha,
        "source_included": settings.keep_source,
        "extractor": _extractor_version(),
        "sanitizer_removed": dict(sanitized.removed),
        "images": image_record(images),
    }
    provenance = {k: v for k, v in provenance.items() if v is not None}
    car_file = car_path(Path(out))
    result = write_bundle(
        out,
        content,
        article=article_fields(article),
        capture=provenance,
        signer=signer,
        car_out=car_file,  # the root pass writes the CAR: the files are read twice, not thrice
    )
    root = result.root.encode()
    # CAR.minisig for readers who check with stock `minisign`: signed here, while the
    # other articles of a batch are still being extracted, by the key that signed the
    # manifest (the capture's own, held in this data directory)
    minisign.write_minisig(
        car_file, signer.key, root_cid=root, captured_at=result.manifest.captured_at
    )
    return Captured(
        url=url,
        path=result.path,
        car=car_file,
        root=root,
        body_sha256=body_sha,
        title=str(result.manifest.title),
        missing_images=len(images.failed),
    )


class CachingResolver:
    """Name -> addresses, looked up once per host and remembered for ``ttl`` seconds
    (answers and failures alike), shared by every fetch of a batch.

    Pages and images of one site name the same few hosts; one lookup per host
    instead of one per image spares the resolver a burst of identical queries.
    The Fetcher checks and pins exactly the addresses returned here, so caching
    does not weaken the address guard.
    """

    def __init__(
        self,
        resolve: Callable[[str, int], list[str]] | None = None,
        *,
        ttl: float = 120.0,
        max_entries: int = 4096,
    ) -> None:
        self._resolve = resolve or _system_resolve
        self._ttl = ttl
        self._max = max_entries
        self._lock = threading.Lock()
        self._host_locks: dict[tuple[str, int], threading.Lock] = {}
        self._cache: dict[tuple[str, int], tuple[float, list[str] | OSError]] = {}

    def __call__(self, host: str, port: int) -> list[str]:
        key = (host.lower(), port)
        with self._lock:
            host_lock = self._host_locks.setdefault(key, threading.Lock())
        with host_lock:  # one query per host at a time; the others wait for its answer
            now = time.monotonic()
            with self._lock:
                hit = self._cache.get(key)
            if hit is None or hit[0] < now:
                answer: list[str] | OSError
                try:
                    answer = list(self._resolve(host, port))
                except OSError as e:
                    answer = e
                with self._lock:
                    if len(self._cache) >= self._max:
                        self._cache.clear()
                        self._host_locks = {key: host_lock}
                    self._cache[key] = (now + self._ttl, answer)
                hit = (now + self._ttl, answer)
        if isinstance(hit[1], OSError):
            raise hit[1]
        return list(hit[1])


def _system_resolve(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def batch_fetcher(policy: FetchPolicy) -> Fetcher:
    """The Fetcher a batch shares: the policy's guard and limits, one DNS cache."""
    return Fetcher(policy, resolver=CachingResolver())


# -- naming ------------------------------------------------------------------------

_SLUG_DROP = re.compile(r"[^\w]+", re.UNICODE)


def bundle_name(url: str) -> str:
    """A folder name for a URL: a slug of its path plus a short hash of the whole URL,
    stable across runs (same URL, same name) and distinct for distinct URLs."""
    parts = urlsplit(url)
    path = unquote(parts.path).strip("/")
    path = re.sub(r"\.(s?html?|php|aspx?|jsp)$", "", path, flags=re.I)
    slug = _SLUG_DROP.sub("-", path.lower()).strip("-_")
    if not slug:
        slug = _SLUG_DROP.sub("-", (parts.hostname or "page").lower()).strip("-_") or "page"
    slug = slug[-60:].strip("-_") or "page"  # the end of a path names the article best
    digest = hashlib.sha256(url.encode("utf-8")).hexdigest()[:10]
    return f"{slug}-{digest}"


# -- remembered captures -------------------------------------------------------------


class CaptureState:
    """URL -> last capture, kept in ``captures.json`` of the data directory.

    Loaded once, updated under a lock after each capture and written atomically, so
    an interrupted batch keeps what finished. A damaged file is ignored (everything is
    captured again) rather than blocking captures.
    """

    MAX_BYTES = 64 * MiB
    WRITE_EVERY = 2.0

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._dirty = False
        self._written = 0.0
        self.entries: dict[str, dict[str, Any]] = {}
        try:
            raw = store.read_bytes(path, limit=self.MAX_BYTES, what="capture state")
            data = json.loads(raw)
            if isinstance(data, dict) and isinstance(data.get("captures"), dict):
                self.entries = {
                    str(k): v for k, v in data["captures"].items() if isinstance(v, dict)
                }
        except (MirrorError, ValueError):
            self.entries = {}

    def unchanged(self, url: str, body_sha256: str, out: Path, keep_source: bool) -> str | None:
        """Root CID of the last capture when it can be reused as is, else None."""
        with self._lock:
            entry = self.entries.get(url)
        if not entry or entry.get("body_sha256") != body_sha256:
            return None
        if entry.get("path") != str(out.resolve()) or entry.get("source") != keep_source:
            return None
        car = car_path(out)
        if not (out / "manifest.json").is_file() or not car.is_file():
            return None
        if not minisign.sig_path(car).is_file():
            return None
        root = entry.get("root")
        return root if isinstance(root, str) else None

    def record(self, captured: Captured, keep_source: bool) -> None:
        """Remember a capture; written at most every ``WRITE_EVERY`` seconds (and by
        ``flush``), so a large batch does not rewrite the file per article."""
        with self._lock:
            self.entries[captured.url] = {
                "body_sha256": captured.body_sha256,
                "root": captured.root,
                "path": str(captured.path.resolve()),
                "source": keep_source,
                "captured_at": now_text(),
            }
            self._dirty = True
            if time.monotonic() - self._written >= self.WRITE_EVERY:
                self._write()

    def flush(self) -> None:
        with self._lock:
            if self._dirty:
                self._write()

    def _write(self) -> None:
        from mirror import canonjson  # the registry is canonical JSON like every other

        data = canonjson.dumps({"captures": self.entries}) + b"\n"
        store.atomic_write(self.path, data, label="captures")
        self._dirty = False
        self._written = time.monotonic()


# -- extraction in worker processes --------------------------------------------------

# Starting workers costs more than they save on a few pages.
POOL_MIN_ARTICLES = 5


def extract_processes(jobs: int, articles: int) -> int:
    """Worker processes a batch extracts with: 0 (extract in this process) for small
    batches, one job or one core; else one per job up to the cores available."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    workers = min(jobs, cores)
    return workers if workers > 1 and articles >= POOL_MIN_ARTICLES else 0


# -- batch ---------------------------------------------------------------------------

Status = Literal["captured", "unchanged", "failed"]


@dataclass(frozen=True, slots=True)
class Outcome:
    url: str
    status: Status
    path: Path | None = None
    root: str | None = None
    error: str | None = None
    exit_code: int = 0
    seconds: float = 0.0
    missing_images: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "status": self.status,
            "root_cid": self.root,
            "path": str(self.path) if self.path else None,
            "car": str(car_path(self.path)) if self.path and self.root else None,
            "error": self.error,
            "exit_code": self.exit_code,
            "missing_images": self.missing_images,
        }


@dataclass(frozen=True, slots=True)
class BatchReport:
    outcomes: tuple[Outcome, ...]  # in input order
    seconds: float

    def count(self, status: Status) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    @property
    def failed(self) -> tuple[Outcome, ...]:
        return tuple(o for o in self.outcomes if o.status == "failed")


def _capture_one(
    url: str,
    out: Path,
    *,
    signer: Signer,
    fetcher: Fetcher,
    settings: CaptureSettings,
    state: CaptureState | None,
    extract: Extract | None = None,
) -> Outcome:
    started = time.monotonic()
    try:
        fetched = fetcher.fetch(url)
        body_sha = sha256_tag(fetched.body)
        if state is not None:
            root = state.unchanged(url, body_sha, out, settings.keep_source)
            if root is not None:
                return Outcome(url, "unchanged", out, root, seconds=time.monotonic() - started)
        captured = capture_url(
            url,
            out,
            signer=signer,
            fetcher=fetcher,
            settings=settings,
            fetched=fetched,
            started=started,
            extract=extract,
        )
        if state is not None:
            state.record(captured, settings.keep_source)
        return Outcome(
            url,
            "captured",
            captured.path,
            captured.root,
            seconds=time.monotonic() - started,
            missing_images=captured.missing_images,
        )
    except MirrorError as e:
        return Outcome(
            url,
            "failed",
            out,
            error=e.message,
            exit_code=e.exit_code,
            seconds=time.monotonic() - started,
        )
    except Exception as e:  # a bug in one page's handling must not end the batch
        first = (str(e).splitlines() or [""])[0][:200]
        return Outcome(
            url,
            "failed",
            out,
            error=f"internal error ({type(e).__name__}: {first})",
            exit_code=1,
            seconds=time.monotonic() - started,
        )


def run_batch(
    targets: Sequence[tuple[str, Path]],
    *,
    signer: Signer,
    fetcher: Fetcher,
    settings: CaptureSettings | None = None,
    state: CaptureState | None = None,
    jobs: int = 4,
    on_start: Callable[[str], None] | None = None,
    on_done: Callable[[Outcome], None] | None = None,
    extract: Extract | None = None,
) -> BatchReport:
    """Capture each (url, bundle folder) pair on ``jobs`` threads.

    ``extract`` extracts the articles elsewhere (``workers.ExtractWorkers``, which
    the caller starts early and closes); by default they are extracted in this
    process, one thread at a time. Callbacks run on the worker threads (the
    caller's progress display must be thread-safe; rich's is). Outcomes come back in input order.
    """
    settings = settings or CaptureSettings()
    if len(targets) > MAX_BATCH:
        raise UsageError(f"{len(targets)} URLs in one batch; at most {MAX_BATCH}")
    if not 1 <= jobs <= 64:
        raise UsageError("jobs must be between 1 and 64")
    folders = [Path(out).resolve() for _u, out in targets]
    if len(set(folders)) != len(folders):
        raise UsageError("two URLs of the batch would be written to the same folder")
    started = time.monotonic()

    def work(target: tuple[str, Path]) -> Outcome:
        url, out = target
        if on_start:
            on_start(url)
        outcome = _capture_one(
            url,
            Path(out),
            signer=signer,
            fetcher=fetcher,
            settings=settings,
            state=state,
            extract=extract,
        )
        if on_done:
            on_done(outcome)
        return outcome

    try:
        if jobs == 1 or len(targets) <= 1:
            outcomes = [work(t) for t in targets]
        else:
            pool = ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="mirror-capture")
            try:
                outcomes = list(pool.map(work, targets))
            except BaseException:  # Ctrl-C: finish what runs, start nothing new
                pool.shutdown(wait=True, cancel_futures=True)
                raise
            pool.shutdown(wait=True)
    finally:
        if state is not None:
            state.flush()
    return BatchReport(tuple(outcomes), time.monotonic() - started)


def read_urls_file(path: Path, *, limit: int = MAX_BATCH) -> tuple[str, ...]:
    """URLs of a text file: one per line; blank lines and '#' comments skipped."""
    data = store.read_bytes(path, limit=16 * MiB, what="URL list")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise UsageError(f"{path} is not UTF-8 text") from e
    urls = [line.strip() for line in text.splitlines()]
    urls = [u for u in urls if u and not u.startswith("#")]
    if len(urls) > limit:
        raise UsageError(f"{path} lists {len(urls)} URLs; at most {limit} per batch")
    return tuple(dict.fromkeys(urls))


def plan_targets(urls: Iterable[str], output: Path, *, single: bool) -> list[tuple[str, Path]]:
    """Where each URL's bundle goes: ``output`` itself for a single URL, else
    ``output/<bundle_name(url)>``."""
    listed = list(dict.fromkeys(urls))
    if single and len(listed) == 1:
        return [(listed[0], output)]
    return [(u, output / bundle_name(u)) for u in listed]


def document_fetch(fetcher: Fetcher) -> Callable[[str, str, int], Any]:
    """The fetch function feeds.py expects, over the safe Fetcher."""
    from mirror.capture.feeds import Document

    def fetch(url: str, accept: str, max_bytes: int) -> Document:
        got = fetcher.fetch(url, accept=accept, max_bytes=max_bytes)
        return Document(got.final_url, got.body)

    return fetch


def gather_urls(
    urls: Sequence[str],
    *,
    fetcher: Fetcher,
    feeds: Sequence[str] = (),
    sitemaps: Sequence[str] = (),
    urls_file: Path | None = None,
) -> tuple[str, ...]:
    """Every article URL of a batch, in order, each once: the URLs given, then those
    of the URL list file, the feeds and the sitemaps. Discovery failures raise."""
    from mirror.capture import feeds as feeds_mod

    fetch = document_fetch(fetcher)
    groups: list[Sequence[str]] = [urls]
    if urls_file is not None:
        groups.append(read_urls_file(urls_file))
    groups.extend(feeds_mod.feed_urls(u, fetch) for u in feeds)
    groups.extend(feeds_mod.sitemap_urls(u, fetch) for u in sitemaps)
    found = feeds_mod.merge(groups)
    if len(found) > MAX_BATCH:
        raise UsageError(f"{len(found)} URLs in one batch; at most {MAX_BATCH}")
    return found
