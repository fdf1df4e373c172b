"""Publisher command: capture web articles into signed bundles (and their CARs)."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ..errors import MirrorError
from .app import Context, F, emit_json, json_option, main, note, pass_ctx
from .keys import passphrase
from .tsa import stamper, tsa_options

if TYPE_CHECKING:  # the capture stack is imported when a capture runs, not for --help
    from .. import publish
    from ..capture import pipeline


def capture_options(f: F) -> F:
    """Every option of `mirror capture` (not the URL arguments), for reuse by
    commands that capture before doing more (`mirror publish`). The decorated
    function receives: output, feeds, sitemaps, urls_file, jobs, allow_private,
    proxy, no_source, key_name, processes, tsa, tsa_optional."""
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
            default=None,
            help="Extract a batch's articles in this many worker processes (0: in this "
            "process, one at a time). Default: one per core (up to -j) for batches of "
            "five or more articles; each worker holds 40-100 MB.",
        ),
    ]
    for option in reversed(options):
        f = option(f)
    return tsa_options(f)


def publish_car(bundle: Path) -> Path:
    from ..capture.pipeline import car_path  # loaded with the capture stack, not for --help

    return car_path(bundle)


def run_capture(
    ctx: Context, urls: Sequence[str], options: dict[str, Any], *, show_progress: bool = True
) -> publish.CaptureRun:
    """Ask the passphrase once and capture, with a progress display on stderr."""
    from .. import publish as publish_mod  # the capture stack loads for a capture, not --help

    stamper(options["tsa"], options["tsa_optional"])  # refuses --tsa-optional alone
    request = publish_mod.CaptureRequest(urls=tuple(urls), **options)
    secret = passphrase(confirm=False)
    bars: list[_Progress] = []

    def progress(total: int) -> Callable[[pipeline.Outcome], None]:
        bar = _Progress(total, enabled=show_progress and not request.single)
        bars.append(bar.__enter__())
        return bar.done

    try:
        return publish_mod.capture(ctx.home, request, secret, progress=progress, warn=note)
    finally:
        for bar in bars:
            bar.__exit__(None, None, None)


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
def capture(ctx: Context, /, urls: tuple[str, ...], as_json: bool, **options: Any) -> None:
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
    run = run_capture(ctx, urls, options)
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
        car = publish_car(outcome.path or Path())
        note(f"{verb} {outcome.path} and {car}{missing}")
        return
    print_summary(report)
    if run.exit_code:
        click.get_current_context().exit(run.exit_code)
