"""The publisher's workflows: capture URLs into signed bundles (with their CARs and
.minisig files), and publish them (push every bundle, then the next signed feed).

The CLI parses its options into a CaptureRequest, calls `capture` or `publish`, and
renders what comes back; the passphrase is asked for once, by the caller, and every
key is unlocked once (the feed is signed by the same Signer as the bundles).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from . import push, tsa_trust
from .capture import pipeline
from .capture.fetch import FetchPolicy
from .capture.workers import ExtractWorkers
from .config import Home
from .errors import NetworkError, UsageError
from .ipfs import IpfsNode
from .publisher import load_signer
from .signer import Signer
from .timestamp import Stamper

DEFAULT_OUTPUT = Path("captures")
EXIT_SOME_FAILED = NetworkError.exit_code  # 4: documented contract for batches


@dataclass(frozen=True, slots=True)
class CaptureRequest:
    urls: tuple[str, ...] = ()
    output: Path | None = None
    feeds: tuple[str, ...] = ()
    sitemaps: tuple[str, ...] = ()
    urls_file: Path | None = None
    jobs: int = 4
    allow_private: bool = False
    proxy: str | None = None
    no_source: bool = False
    key_name: str | None = None
    processes: int | None = None  # extraction worker processes; None: one per core
    tsa: tuple[str, ...] = ()  # RFC 3161 TSAs stamping each bundle's signatures
    tsa_optional: bool = False

    @property
    def single(self) -> bool:
        """One URL argument, no feed, sitemap or list: its own failure is the exit code."""
        return len(self.urls) == 1 and not (self.feeds or self.sitemaps or self.urls_file)


@dataclass(frozen=True, slots=True)
class CaptureRun:
    report: pipeline.BatchReport
    single: bool
    signer: Signer  # unlocked once; `publish` signs its feed with it too

    @property
    def exit_code(self) -> int:
        failed = self.report.failed
        if not failed:
            return 0
        return failed[0].exit_code if self.single else EXIT_SOME_FAILED

    @property
    def captured(self) -> list[Path]:
        return [o.path for o in self.report.outcomes if o.root and o.path]


Progress = Callable[[int], Callable[[pipeline.Outcome], None]]  # total -> per-item callback


def capture(
    home: Home,
    request: CaptureRequest,
    passphrase: str,
    *,
    progress: Progress | None = None,
    warn: Callable[[str], None] | None = None,
) -> CaptureRun:
    """Unlock the signer, gather the URLs, capture them all (each CAR with its minisig)."""
    if not (request.urls or request.feeds or request.sitemaps or request.urls_file):
        raise UsageError("give at least one URL, --feed, --sitemap or --urls-file")
    settings = pipeline.CaptureSettings(
        policy=FetchPolicy(allow_private=request.allow_private, proxy=request.proxy),
        keep_source=not request.no_source,
    )
    roots = tsa_trust.signing_roots(home) if request.tsa else None
    stamper = Stamper(request.tsa, request.tsa_optional, warn=warn, roots=roots)
    count = _extract_processes(request)
    with ExtractWorkers(count) if count else contextlib.nullcontext() as workers:
        # The workers load their extractor while the key derivation runs here; a wrong
        # passphrase still stops everything before the first fetch.
        signer = load_signer(home, passphrase, request.key_name, stamper=stamper)
        fetcher = pipeline.batch_fetcher(settings.policy)
        found = pipeline.gather_urls(
            request.urls,
            fetcher=fetcher,
            feeds=request.feeds,
            sitemaps=request.sitemaps,
            urls_file=request.urls_file,
        )
        output = request.output
        if request.single and output is None:
            output = DEFAULT_OUTPUT / pipeline.bundle_name(found[0])
        targets = pipeline.plan_targets(found, output or DEFAULT_OUTPUT, single=request.single)
        report = pipeline.run_batch(
            targets,
            signer=signer,
            fetcher=fetcher,
            settings=settings,
            state=pipeline.CaptureState(home.captures_file),
            jobs=request.jobs,
            on_done=progress(len(targets)) if progress else None,
            extract=workers,
        )
    return CaptureRun(report, request.single, signer)


def _extract_processes(request: CaptureRequest) -> int:
    """Worker processes for a run, decided before its URLs are gathered (so they start
    at once): as asked, else one per core for five or more articles, counting a feed,
    sitemap or URL list as that many; none for a single URL."""
    if request.single:
        return 0
    if request.processes is not None:
        return request.processes
    listed = not (request.feeds or request.sitemaps or request.urls_file)
    articles = len(request.urls) if listed else pipeline.POOL_MIN_ARTICLES
    return pipeline.extract_processes(request.jobs, articles)


def publish(
    node: IpfsNode,
    home: Home,
    run: CaptureRun,
    *,
    ttl: timedelta,
    log: Callable[[str], None],
) -> tuple[list[push.PushResult], push.FeedPublishResult] | None:
    """Push what a capture run produced, then sign and announce the next feed (None
    when nothing was captured)."""
    bundles: Sequence[Path] = run.captured
    if not bundles:
        return None
    return push.publish_bundles(node, home, bundles, run.signer, ttl=ttl, log=log)
