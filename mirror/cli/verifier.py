"""`mirror verifier`: write the reader's verifier page (one static HTML file)."""

from __future__ import annotations

from pathlib import Path

import click

from .. import ipfs, minisign, tsa_trust
from .. import push as push_mod
from .. import verifier as verifier_mod
from ..clock import now_text
from ..errors import UsageError
from ..ipld.unixfs import add_path
from .app import Context, main, note, pass_ctx
from .keys import minisig_key


@main.command("verifier")
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True,
    help="HTML file to write (e.g. verify.html).",
)  # fmt: skip
@click.option(
    "--trust", "names", multiple=True, metavar="NAME",
    help="Trusted publisher to embed (repeatable). Default: the keys held here.",
)  # fmt: skip
@click.option(
    "--gateway", "gateways", multiple=True, metavar="URL",
    help="Trustless gateway the page may ask when the reader fetches by CID (repeatable).",
)  # fmt: skip
@click.option("--no-minisig", is_flag=True, help="Do not write OUTPUT.minisig.")
@click.option(
    "--push", is_flag=True,
    help="Also put the page on the IPFS node; the next `mirror feed publish` names it.",
)  # fmt: skip
@click.option("--api", default=None, metavar="ADDR", help="IPFS node RPC address (with --push).")
@pass_ctx
def verifier_cmd(
    ctx: Context,
    output: Path,
    names: tuple[str, ...],
    gateways: tuple[str, ...],
    no_minisig: bool,
    push: bool,
    api: str | None,
) -> None:
    """Write the verifier page: one HTML file that checks exports and CARs in a browser,
    offline, against the embedded publisher keys. OUTPUT.minisig is written when an
    embedded key is held in this data directory. With --push the page goes to the
    IPFS node and into the next feed, so followers pin it."""
    embedded = verifier_mod.embedded_keys(ctx.home, names)
    if not embedded:
        raise UsageError("no key to embed: pass --trust NAME or create a key (mirror keygen)")
    # the reader's own TSA roots (`mirror trust tsa`) travel with the keys
    size = verifier_mod.write(output, embedded, gateways, tsa_trust.roots(ctx.home))
    note(f"wrote {output}: {size} bytes, {len(embedded)} key(s), {len(gateways)} gateway(s)")
    if not no_minisig:
        own = next((minisign.own_key_name(ctx.home, k.key) for k in embedded), None)
        key = minisig_key(ctx.home, own, output) if own is not None else None
        if key is not None:
            now = now_text()
            sig = minisign.write_minisig(
                output, key, root_cid=add_path(output).root.encode(), captured_at=now
            )
            note(f"wrote {sig} (check: {minisign.verify_command(key.public, output.name)})")
    if push:
        node = ipfs.IpfsNode(ipfs.resolve_api(api), timeout=60.0)
        ref = push_mod.push_verifier(node, ctx.home, output)
        note(f"pushed {ref.cid} ({ref.size} bytes): the next `mirror feed publish` names it")
    click.echo(str(output))
