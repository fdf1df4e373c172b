"""Reader commands: get, export, read (and the minisign side of publisher commands)."""

from __future__ import annotations

import threading
import webbrowser
from pathlib import Path

import click

from .. import export as export_mod
from .. import ipfs, keys, minisign, reader, retrieve, viewer
from ..errors import MirrorError, UsageError
from ..ipld.cid import CID
from .app import Context, F, emit_json, json_option, main, note, pass_ctx
from .content import trust_options
from .keys import minisig_key


@main.command("export")
@click.argument("bundle", type=click.Path(exists=True, path_type=Path))
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="HTML file to write.",
)
@trust_options
@click.option("--no-minisig", is_flag=True, help="Do not write OUTPUT.minisig.")
@json_option
@pass_ctx
def export_cmd(
    ctx: Context,
    bundle: Path,
    output: Path,
    trust_name: str | None,
    key_text: str | None,
    no_minisig: bool,
    as_json: bool,
) -> None:
    """Write BUNDLE (folder or CAR) as one self-contained HTML file.

    The file carries the signed manifest and verifies with `mirror verify FILE.html`;
    any change to its bytes in transit is detected. Without --trust/--key the bundle
    must be signed by a key held in this data directory (the publisher's own export).
    When it is, OUTPUT.minisig is written for the stock `minisign` tool too.
    """
    if trust_name or key_text:
        trusted = keys.resolve_trust(ctx.home, trust_name, key_text)
    else:
        trusted = keys.own_keys(ctx.home)
        if not trusted:
            raise UsageError(
                "no signing key in this data directory: pass --trust NAME or --key KEY"
            )
    result = export_mod.export_bundle(ctx.home, bundle, output, trusted)
    if not no_minisig:
        signer = minisign.own_key_by_id(ctx.home, result.verdict.key_id)
        key = minisig_key(ctx.home, signer, output) if signer is not None else None
        if key is not None:
            sig = minisign.write_minisig_if_own_key(
                ctx.home,
                output,
                result.verdict.root_cid,
                result.verdict.manifest.captured_at,
                key,
            )
            if sig is not None:
                note(f"wrote {sig}")
    if as_json:
        emit_json(result.to_dict())
        return
    note(
        f"wrote {output}: {result.size} bytes, {result.inlined} image(s) inlined "
        f"(bundle {result.bundle_size} bytes)"
    )
    click.echo(str(output))


def _gateway_option(f: F) -> F:
    return click.option(
        "--gateway",
        "gateways",
        multiple=True,
        metavar="URL",
        help="Trustless gateway to try (repeatable), e.g. https://gateway.example.",
    )(f)


def _api_option(f: F) -> F:
    return click.option(
        "--api",
        default=None,
        metavar="ADDR",
        help="IPFS node RPC address (default: MIRROR_IPFS_API or /ip4/127.0.0.1/tcp/5001).",
    )(f)


def _cid(text: str) -> CID:
    try:
        return CID.decode(text)
    except MirrorError as exc:
        raise UsageError(f"not a CID: {text!r} ({exc.message})") from exc


def _node(api: str | None, no_node: bool, timeout: float) -> ipfs.IpfsNode | None:
    return None if no_node else ipfs.IpfsNode(ipfs.resolve_api(api), timeout=min(30.0, timeout))


@main.command("get")
@click.argument("cid_text", metavar="CID")
@trust_options
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    default=None,
    help="Bundle folder to write, or a CAR file when it ends in .car (default: ./CID).",
)
@_api_option
@_gateway_option
@click.option("--no-node", is_flag=True, help="Do not ask an IPFS node; cache and gateways only.")
@click.option(
    "--force",
    is_flag=True,
    help="Write into OUTPUT although it is a non-empty folder (other files there stay).",
)
@click.option(
    "--timeout",
    type=click.FloatRange(1, 3600),
    default=retrieve.DEFAULT_DEADLINE,
    show_default=True,
    help="Seconds for the whole fetch.",
)
@json_option
@pass_ctx
def get_cmd(
    ctx: Context,
    cid_text: str,
    trust_name: str | None,
    key_text: str | None,
    output: Path | None,
    api: str | None,
    gateways: tuple[str, ...],
    no_node: bool,
    force: bool,
    timeout: float,
    as_json: bool,
) -> None:
    """Fetch bundle CID, verify every block and the signature, write it.

    Tries the local cache, then the IPFS node, then the gateways (raced). A source
    whose bytes do not verify is skipped with a warning; nothing unverified is
    written. Exit 3 when no source gave a copy that verifies.
    """
    trusted = keys.resolve_trust(ctx.home, trust_name, key_text)
    cid = _cid(cid_text)
    out = output or Path(cid.encode())
    fetched, verdict = reader.get(
        ctx.home,
        cid,
        trusted,
        out,
        node=_node(api, no_node, timeout),
        gateways=gateways,
        deadline=timeout,
        progress=note,
        force=force,
    )
    if as_json:
        emit_json(
            {
                **verdict.to_dict(),
                "output": str(out),
                "source": fetched.source,
                "attempts": [
                    {"source": a.source, "ok": a.ok, "detail": a.detail} for a in fetched.attempts
                ],
            }
        )
        return
    note(f"verified: signed by {verdict.publisher} ({verdict.key_id}); wrote {out}")
    click.echo(verdict.root_cid)


@main.command("read")
@click.argument("target")
@trust_options
@click.option("--no-open", is_flag=True, help="Print the URL; do not open a browser.")
@click.option(
    "--serve-seconds",
    type=click.FloatRange(0.1, 86400),
    default=None,
    help="Stop serving after this many seconds (default: until Ctrl-C).",
)
@click.option(
    "--port", type=click.IntRange(0, 65535), default=0, help="Local port (default: any free)."
)
@_api_option
@_gateway_option
@click.option("--no-node", is_flag=True, help="For a CID: do not ask an IPFS node.")
@json_option
@pass_ctx
def read_cmd(
    ctx: Context,
    target: str,
    trust_name: str | None,
    key_text: str | None,
    no_open: bool,
    serve_seconds: float | None,
    port: int,
    api: str | None,
    gateways: tuple[str, ...],
    no_node: bool,
    as_json: bool,
) -> None:
    """Verify TARGET and show it in the browser with the verdict above it.

    TARGET is a CID, a CAR file, a bundle folder or a single-file export. A local
    server on 127.0.0.1 serves only verified bytes; a copy that fails verification
    is replaced by a red refusal page saying why. Exit code: 0 when verified, else
    the verification's error code.
    """
    trusted = keys.resolve_trust(ctx.home, trust_name, key_text)
    path = Path(target)
    if path.exists():
        outcome = viewer.prepare(ctx.home, path, trusted)
    else:
        try:
            fetched = reader.fetch(
                ctx.home,
                _cid(target),
                trusted,
                node=_node(api, no_node, retrieve.DEFAULT_DEADLINE),
                gateways=gateways,
                deadline=retrieve.DEFAULT_DEADLINE,
                progress=note,
            )
            outcome = viewer.prepare(ctx.home, fetched.car, trusted, label=target)
        except UsageError:
            raise
        except MirrorError as exc:
            outcome = viewer.refusal(exc, target)
    server = viewer.ReaderServer(outcome.routes, port=port)
    server.start()
    try:
        _serve(server, outcome, as_json, no_open, serve_seconds)
    except KeyboardInterrupt:  # Ctrl-C at any moment ends serving, not the verdict's code
        note("stopped")
    finally:
        server.stop()
    if not outcome.ok:
        click.get_current_context().exit(outcome.exit_code)


def _serve(
    server: viewer.ReaderServer,
    outcome: viewer.Outcome,
    as_json: bool,
    no_open: bool,
    serve_seconds: float | None,
) -> None:
    if as_json:
        emit_json({**outcome.to_dict(), "url": server.url})
    else:
        click.echo(server.url)
    if outcome.verdict is not None:
        note(f"verified: signed by {outcome.verdict.publisher} ({outcome.verdict.key_id})")
    else:
        note(f"refused: {outcome.error.message if outcome.error else ''}")
    if not no_open:
        webbrowser.open(server.url)
    note(
        "serving on "
        + server.url
        + (f" for {serve_seconds:g} s" if serve_seconds else "; press Ctrl-C to stop")
    )
    threading.Event().wait(serve_seconds)
