"""Network commands: push, publish, feed publish/show/announce, follow."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from types import FrameType
from typing import Any

import click

from .. import feed, follow, keys, push, store
from ..errors import UsageError
from ..ipfs import IpfsNode, resolve_api
from ..ipld import unixfs
from ..publisher import load_signer
from .app import Context, F, emit_json, json_option, main, note, pass_ctx
from .capture import capture_options, run_capture
from .keys import passphrase
from .tsa import stamper, tsa_options


def api_option(f: F) -> F:
    return click.option(
        "--api",
        metavar="MULTIADDR_OR_URL",
        default=None,
        help="IPFS node RPC API (default: MIRROR_IPFS_API or /ip4/127.0.0.1/tcp/5001).",
    )(f)


def connect(api: str | None) -> IpfsNode:
    return IpfsNode(resolve_api(api))


@main.command("push")
@click.argument("target", type=click.Path(path_type=Path))
@click.option(
    "--no-record", is_flag=True, help="Push only; do not add the bundle to this home's feed list."
)
@api_option
@json_option
@pass_ctx
def push_cmd(ctx: Context, target: Path, no_record: bool, api: str | None, as_json: bool) -> None:
    """Push a bundle folder or CAR file to an IPFS node and pin it.

    The node's root must equal the root computed locally (else exit 3, nothing
    recorded). Bundles signed by this home's keys are recorded for `mirror feed
    publish`. Prints the root CID on stdout.
    """
    result = push.push(connect(api), ctx.home, target, record=not no_record)
    if as_json:
        emit_json(result.to_dict())
        return
    if result.already_pinned:
        note(f"already pinned: {result.root_cid}")
    else:
        note(f"pushed and pinned {result.root_cid} ({result.size} bytes)")
    if result.recorded:
        note("recorded for the next `mirror feed publish`")
    click.echo(result.root_cid)


@main.command("publish")
@click.argument("urls", nargs=-1, metavar="URL...")
@capture_options
@click.option("--ttl", default="7d", show_default=True, help="How long the new feed stays valid.")
@api_option
@json_option
@pass_ctx
def publish_cmd(
    ctx: Context, /, urls: tuple[str, ...], ttl: str, api: str | None, as_json: bool, **options: Any
) -> None:
    """Capture articles, push them to the IPFS node and publish the updated feed.

    Takes every option of `mirror capture`. Prints one root CID per article on
    stdout (the feed CID goes to stderr). Exit codes as for `mirror capture` when a
    capture fails; the articles that were captured are still pushed and published.
    """
    node = connect(api)
    info = node.info()  # fail before capturing when the node is not there
    note(f"IPFS node: {info.label} at {node.api}")
    lifetime = timedelta(seconds=follow.parse_duration(ttl))
    run = run_capture(ctx, urls, options)
    for failed in run.report.failed:
        note(f"capture failed: {failed.url}: {failed.error}")
    from .. import publish  # the capture stack loads for a capture only

    done = publish.publish(node, ctx.home, run, ttl=lifetime, log=note)
    if done is not None:
        pushed, published = done
        for warning in published.warnings:
            note(f"warning: {warning}")
        note(f"feed {published.feed_cid} version {published.version}")
        if as_json:
            emit_json(
                {
                    "articles": [r.to_dict() for r in pushed],
                    "feed": published.to_dict(),
                    "failed": [o.to_dict() for o in run.report.failed],
                }
            )
        else:
            for result in pushed:
                click.echo(result.root_cid)
    elif as_json:
        emit_json(
            {"articles": [], "feed": None, "failed": [o.to_dict() for o in run.report.failed]}
        )
    if run.exit_code:
        click.get_current_context().exit(run.exit_code)


@main.group("feed")
def feed_group() -> None:
    """The publisher's signed feed: publish, show, announce."""


@feed_group.command("publish")
@click.option("--key-name", default=None, help="Signing key (default: the default key).")
@click.option("--ttl", default="7d", show_default=True, help="How long the feed stays valid.")
@click.option("--gateway", "gateways", multiple=True, help="Recommend a gateway URL (repeatable).")
@click.option("--no-announce", is_flag=True, help="Do not announce over IPNS or pubsub.")
@tsa_options
@api_option
@json_option
@pass_ctx
def feed_publish(
    ctx: Context,
    key_name: str | None,
    ttl: str,
    gateways: tuple[str, ...],
    no_announce: bool,
    tsa: tuple[str, ...],
    tsa_optional: bool,
    api: str | None,
    as_json: bool,
) -> None:
    """Sign and push the next feed version listing every bundle this home published.

    Each run renews the feed: it expires after --ttl (7 days by default), and
    followers refuse an expired feed as frozen, so publish at least that often. With
    a publisher identity the feed carries its chain and is signed by a threshold of
    its current keys. The signed head is written to feed/head.json and announced by IPNS and pubsub
    when the node supports them. Prints the new feed CID on stdout.
    """
    stamps = stamper(tsa, tsa_optional, warn=note, home=ctx.home)
    signer = load_signer(ctx.home, passphrase(confirm=False), key_name, stamper=stamps)
    result = push.push_feed(
        connect(api),
        ctx.home,
        signer,
        ttl=timedelta(seconds=follow.parse_duration(ttl)),
        gateways=gateways,
        announce=not no_announce,
    )
    for warning in result.warnings:
        note(f"warning: {warning}")
    if as_json:
        emit_json(result.to_dict())
        return
    note(f"feed version {result.version}: {result.entries} bundle(s), expires {result.expires}")
    if result.ipns_name:
        note(f"IPNS name /ipns/{result.ipns_name}")
    note(f"head file {result.head_file}")
    click.echo(result.feed_cid)


@feed_group.command("show")
@json_option
@pass_ctx
def feed_show(ctx: Context, as_json: bool) -> None:
    """Print this home's current feed."""
    current = feed.load_own_feed(ctx.home, push.publisher_keys(ctx.home))
    if current is None:
        raise UsageError("no feed yet: run `mirror feed publish`")
    verified, data = current
    doc = verified.feed.to_dict()
    doc["feed_cid"] = unixfs.file_cid(data).encode()
    if as_json:
        emit_json(doc)
        return
    f = verified.feed
    click.echo(f"feed {doc['feed_cid']} version {f.version} by {f.key_id}")
    click.echo(f"created {f.created_at}, expires {f.expires}, previous {f.previous or '-'}")
    for entry in f.entries:
        stamped = f"  existed by {entry.stamped_at}" if entry.stamped_at else ""
        click.echo(f"{entry.root_cid}  {entry.captured_at}{stamped}  {entry.title or entry.url}")


@feed_group.command("announce")
@click.argument("head_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--publisher", "key_id", default=None, help="Topic of this key id (default: the head's)."
)
@api_option
@pass_ctx
def feed_announce(ctx: Context, head_file: Path, key_id: str | None, api: str | None) -> None:
    """Send a signed feed head file on the publisher's pubsub topic.

    Heads are checked by whoever receives them; this only relays the bytes.
    """
    data = store.read_bytes(head_file, limit=feed.MAX_HEAD, what="head file")
    key_id = key_id or feed.claimed_head_key_id(data)
    push.announce_head(connect(api), data, key_id)
    note(f"announced on {feed.topic_for(key_id)}")


@contextmanager
def _stop_on_signals(stop: follow.StopSignal) -> Iterator[None]:
    def handler(signum: int, frame: FrameType | None) -> None:
        stop.request()

    old = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


@main.command("follow")
@click.argument("source", required=False)
@click.option("--trust", "trust_name", metavar="NAME", help="Trusted publisher name.")
@click.option("--key", "key_text", metavar="KEY", help="Trust this key ('ed25519:...' or a file).")
@click.option("--budget", default=None, help="Storage budget, e.g. 10GB or 500MiB.")
@click.option("--once", is_flag=True, help="One round, then exit (the default).")
@click.option("--interval", default=None, help="Follow forever, a round every DURATION (e.g. 1h).")
@click.option("--pubsub", is_flag=True, help="Also listen for feed heads on the publisher's topic.")
@click.option("--wait", default="60s", show_default=True, help="--once --pubsub: listen this long.")
@click.option(
    "--pin-timeout", default="5m", show_default=True, help="Give up pinning one bundle after this."
)
@click.option(
    "--head-timeout", default="30s", show_default=True, help="Whole time to read a head URL."
)
@api_option
@json_option
@pass_ctx
def follow_cmd(
    ctx: Context,
    source: str | None,
    trust_name: str | None,
    key_text: str | None,
    budget: str | None,
    once: bool,
    interval: str | None,
    pubsub: bool,
    wait: str,
    pin_timeout: str,
    head_timeout: str,
    api: str | None,
    as_json: bool,
) -> None:
    """Follow a publisher's feed: verify it, pin every bundle within the budget.

    SOURCE is a feed CID, an IPNS name (/ipns/... or k51...), a head file or an
    http(s) URL of one; with --pubsub it may be left out. Each bundle is re-verified
    from the node before it counts as mirrored. Exit 0 also when the budget is
    reached; 3 when anything fails verification (the remembered version stays).
    A publisher identity is followed from the trusted key across key rotations.
    """
    if once and interval:
        raise UsageError("give --once or --interval, not both")
    trusted = keys.resolve_trust(ctx.home, trust_name, key_text)
    loop = follow.LoopOptions(
        once=interval is None,
        interval=follow.parse_duration(interval) if interval else 3600.0,
        pubsub=pubsub,
        wait=follow.parse_duration(wait),
    )
    options = follow.FollowOptions(
        budget=follow.parse_size(budget) if budget else None,
        pin_timeout=follow.parse_duration(pin_timeout),
        head_timeout=follow.parse_duration(head_timeout),
    )
    parsed = follow.parse_source(source) if source else None
    stop = follow.StopSignal()
    with _stop_on_signals(stop):
        reports = follow.run(
            connect(api), ctx.home, parsed, trusted, loop=loop, options=options, log=note, stop=stop
        )
    if as_json:
        emit_json(
            [r.to_dict() for r in reports]
            if not loop.once
            else (reports[-1].to_dict() if reports else None)
        )
    else:
        for report in reports[-1:]:
            _summary(report)
    if loop.once and reports:
        exit_code = max(r.exit_code for r in reports)
        if exit_code:
            click.get_current_context().exit(exit_code)


def _summary(r: follow.FollowReport) -> None:
    click.echo(f"publisher {r.publisher} ({r.key_id}) feed {r.feed_cid} version {r.version}")
    budget = f" of {r.budget}" if r.budget is not None else ""
    click.echo(
        f"{r.entries} entries: {r.pinned} pinned, {r.already} already mirrored, "
        f"{len(r.failed)} failed, {len(r.unavailable)} unavailable, {r.skipped} over budget; "
        f"{r.used_bytes}{budget} bytes used"
    )
    if r.budget_reached:
        click.echo("budget reached: newer bundles were kept, older ones not pinned")
    for root, why in r.failed:
        click.echo(f"failed {root}: {why}")
