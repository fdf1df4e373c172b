"""Publisher command: capture web articles into signed bundles (and their CARs)."""

from __future__ import annotations

import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from .. import identity, keys
from ..errors import MirrorError, NetworkError, UsageError
from .app import Context, F, emit_json, json_option, main, note, pass_ctx
from .keys import passphrase

if TYPE_CHECKING:  # the capture stack is imported when a capture runs, not for --help
    from ..capture import pipeline


DEFAULT_OUTPUT = Path("captures")
EXIT_SOME_FAILED = NetworkError.exit_code  # 4: documented contract for batches


def capture_options(f: F) -> F:
    """Every option of `mirror capture` (not the URL arguments), for reuse by
    commands that capture before doing more (`mirror publish`). The decorated
    function receives: output, feeds, sitemaps, urls_file, jobs, allow_private,
    proxy, no_source, key_name, processes."""
    options = [
        click.option(
            "-o",
            "--output",
            type=click.Path(path_type=Path),
            default=None,
            help="One URL: the bundle folder (created with its parents). Several "
            "URLs, a feed, a sitemap or a URL list: the folder receiving one bundle "
            "folder and one CAR per article. Default: ./captures/ (one "
            "<slug>-<hash> folder per article).",
        ),
        click.option(
            "--feed",
            "feeds",
            multiple=True,
            metavar="URL",
            help="Capture every article of this RSS or Atom feed (or of the feed a "
            "web page announces). Repeatable.",
        ),
        click.option(
            "--sitemap",
            "sitemaps",
            multiple=True,
            metavar="URL",
            help="Capture every page of this sitemap (an index is followed one level "
            "deep). Repeatable.",
        ),
        click.option(
            "--urls-file",
            type=click.Path(exists=True, dir_okay=False, path_type=Path),
            default=None,
            help="Capture the URLs of this file, one per line ('#' starts a comment).",
        ),
        click.option(
            "-j",
            "--jobs",
            type=click.IntRange(1, 32),
            default=4,
            show_default=True,
            help="Articles captured in parallel.",
        ),
        click.option(
            "--allow-private",
            is_flag=True,
            help="Allow loopback, private and link-local addresses (refused by default).",
        ),
        click.option(
            "--proxy",
            metavar="URL",
            default=None,
            help="Fetch through this proxy (http://, https://, socks5:// or "
            "socks5h://HOST:PORT). With socks5h:// (and http proxies) names are "
            "resolved by the proxy, so the private-address check applies to "
            "literal IP addresses only.",
        ),
        click.option(
            "--no-source",
            is_flag=True,
            help="Leave the raw page (source/page.raw) out of the bundle.",
        ),
        click.option("--key-name", default=None, help="Signing key (default: the default key)."),
        click.option(
            "--processes",
            type=click.IntRange(0, 16),
            default=0,
            show_default=True,
            help="Extract a batch's articles in this many worker processes (0: in this "
            "process). Faster when cores are free; each worker holds about 100 MB.",
        ),
    ]
    for option in reversed(options):
        f = option(f)
    return f


@dataclass(frozen=True, slots=True)
class CaptureRun:
    report: pipeline.BatchReport
    single: bool  # one URL argument, no feed, sitemap or list
    key: keys.SigningKey  # unlocked once; `mirror publish` signs its feed with them too
    signer: identity.Signer | None

    @property
    def exit_code(self) -> int:
        failed = self.report.failed
        if not failed:
            return 0
        return failed[0].exit_code if self.single else EXIT_SOME_FAILED


def run_capture(
    ctx: Context,
    urls: Sequence[str],
    *,
    output: Path | None,
    feeds: Sequence[str],
    sitemaps: Sequence[str],
    urls_file: Path | None,
    jobs: int,
    allow_private: bool,
    proxy: str | None,
    no_source: bool,
    key_name: str | None,
    processes: int = 0,
    show_progress: bool = True,
) -> CaptureRun:
    """Load the key (passphrase asked once), gather the URLs, capture them all."""
    from ..capture import pipeline
    from ..capture.fetch import FetchPolicy

    single = len(urls) == 1 and not (feeds or sitemaps or urls_file)
    if not (urls or feeds or sitemaps or urls_file):
        raise UsageError("give at least one URL, --feed, --sitemap or --urls-file")
    settings = pipeline.CaptureSettings(
        policy=FetchPolicy(allow_private=allow_private, proxy=proxy),
        keep_source=not no_source,
    )
    secret = passphrase(confirm=False)
    signing_key = keys.load_signing_key(ctx.home, key_name, secret)
    # None: no identity, one key
    signer = identity.load_signer(ctx.home, secret, key_name, loaded=signing_key)
    fetcher = pipeline.batch_fetcher(settings.policy)
    found = pipeline.gather_urls(
        urls, fetcher=fetcher, feeds=feeds, sitemaps=sitemaps, urls_file=urls_file
    )
    if single and output is None:
        output = DEFAULT_OUTPUT / pipeline.bundle_name(found[0])
    targets = pipeline.plan_targets(found, output or DEFAULT_OUTPUT, single=single)
    if not targets:
        note("no articles found")
    state = pipeline.CaptureState(ctx.home.captures_file)
    with _Progress(len(targets), enabled=show_progress and not single) as progress:
        report = pipeline.run_batch(
            targets,
            key=signing_key,
            fetcher=fetcher,
            settings=settings,
            state=state,
            jobs=jobs,
            on_done=progress.done,
            identity=signer,
            processes=0 if single else processes,
        )
    _sign_cars(ctx, report, signing_key)
    return CaptureRun(report, single, signing_key, signer)


def _sign_cars(ctx: Context, report: pipeline.BatchReport, signing_key: keys.SigningKey) -> None:
    """CAR.minisig beside each CAR, for readers who check with stock `minisign`."""
    from .. import minisign
    from ..capture import pipeline
    from ..manifest import MANIFEST_NAME

    for outcome in report.outcomes:
        if outcome.status == "failed" or outcome.path is None or outcome.root is None:
            continue
        car = pipeline.car_path(outcome.path)
        if not car.exists():
            continue
        signer = minisign.bundle_own_signer(ctx.home, outcome.path / MANIFEST_NAME)
        if signer is not None:
            minisign.write_minisig_if_own_key(ctx.home, car, outcome.root, signer[1], signing_key)


class _Progress:
    """A rich progress bar on a terminal; otherwise one line per finished article."""

    def __init__(self, total: int, *, enabled: bool) -> None:
        self.total = total
        self.enabled = enabled
        self.bar: Any = None
        self.task: Any = None
        self.lock = threading.Lock()
        self.finished = 0

    def __enter__(self) -> _Progress:
        if self.enabled and sys.stderr.isatty() and self.total > 1:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
            )

            self.bar = Progress(
                TextColumn("capturing"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TextColumn("{task.description}"),
                console=Console(stderr=True),
                transient=False,
            )
            self.bar.__enter__()
            self.task = self.bar.add_task("", total=self.total)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)

    def done(self, outcome: pipeline.Outcome) -> None:
        with self.lock:
            self.finished += 1
            if self.bar is not None:
                self.bar.update(self.task, advance=1, description=_short(outcome.url, 50))
            elif self.enabled:
                detail = outcome.root if outcome.status != "failed" else outcome.error
                note(f"[{self.finished}/{self.total}] {outcome.status} {outcome.url}: {detail}")


def _short(text: str, width: int) -> str:
    return text if len(text) <= width else "…" + text[-(width - 1) :]


def print_summary(report: pipeline.BatchReport) -> None:
    """Counts, then each failure with its reason, as tables on stderr."""
    from rich.console import Console
    from rich.table import Table

    console = Console(stderr=True, soft_wrap=False)
    table = Table(title=f"capture summary ({report.seconds:.1f} s)", title_justify="left")
    table.add_column("captured", justify="right")
    table.add_column("unchanged", justify="right")
    table.add_column("failed", justify="right")
    table.add_row(
        str(report.count("captured")), str(report.count("unchanged")), str(report.count("failed"))
    )
    console.print(table)
    failed = report.failed
    if failed:
        rows = Table(title="failed", title_justify="left", show_lines=False)
        rows.add_column("url", overflow="fold")
        rows.add_column("exit", justify="right")
        rows.add_column("reason", overflow="fold")
        for outcome in failed[:100]:
            rows.add_row(outcome.url, str(outcome.exit_code), outcome.error or "")
        console.print(rows)
        if len(failed) > 100:
            console.print(f"... and {len(failed) - 100} more failures (see --json)")


@main.command()
@click.argument("urls", nargs=-1, metavar="URL...")
@capture_options
@json_option
@pass_ctx
def capture(
    ctx: Context,
    urls: tuple[str, ...],
    output: Path | None,
    feeds: tuple[str, ...],
    sitemaps: tuple[str, ...],
    urls_file: Path | None,
    jobs: int,
    allow_private: bool,
    proxy: str | None,
    no_source: bool,
    key_name: str | None,
    processes: int,
    as_json: bool,
) -> None:
    """Capture web articles into signed bundles, each with its CAR beside it.

    Each article is fetched safely, its text extracted, sanitized into a reader page
    that makes no network request (images stored in the bundle), signed, and written
    as a bundle folder plus BUNDLE.car. Prints one root CID per article on stdout.

    Re-running skips articles whose fetched bytes are unchanged since their last
    capture into the same folder (it still prints their root CID).

    Exit codes: one URL exits with its own failure's code (2 refused URL,
    4 network, 5 limit exceeded, ...). A batch (several URLs, --feed, --sitemap or
    --urls-file) exits 0 when every article was captured or unchanged and 4 when
    some failed; one bad URL never stops the others.
    """
    run = run_capture(
        ctx,
        urls,
        output=output,
        feeds=feeds,
        sitemaps=sitemaps,
        urls_file=urls_file,
        jobs=jobs,
        allow_private=allow_private,
        proxy=proxy,
        no_source=no_source,
        key_name=key_name,
        processes=processes,
    )
    from ..capture.pipeline import car_path

    report = run.report
    if as_json:
        emit_json(
            {
                "captured": report.count("captured"),
                "unchanged": report.count("unchanged"),
                "failed": report.count("failed"),
                "articles": [o.to_dict() for o in report.outcomes],
            }
        )
    else:
        for outcome in report.outcomes:
            if outcome.root:
                click.echo(outcome.root)
    if run.single:
        outcome = report.outcomes[0]
        if outcome.status == "failed":
            error = MirrorError(outcome.error or "capture failed")
            error.exit_code = outcome.exit_code
            raise error
        verb = "unchanged since the last capture:" if outcome.status == "unchanged" else "wrote"
        missing = f", {outcome.missing_images} images missing" if outcome.missing_images else ""
        note(f"{verb} {outcome.path} and {car_path(outcome.path or Path())}{missing}")
        return
    print_summary(report)
    if run.exit_code:
        click.get_current_context().exit(run.exit_code)
