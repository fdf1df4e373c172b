"""Reader commands: get, export, read (and the minisign side of publisher commands)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from .. import export as export_mod
from .. import keys, minisign
from ..config import PASSPHRASE_ENV, Home
from ..errors import UsageError
from ..keys import TrustedKey
from ..manifest import MANIFEST_NAME
from .app import Context, emit_json, json_option, main, note, pass_ctx
from .content import trust_options


def _own_keys(home: Home) -> list[TrustedKey]:
    return [TrustedKey(n, keys.load_public(home, n), "") for n in keys.list_keys(home)]


def _minisig_passphrase() -> str | None:
    """MIRROR_PASSPHRASE, else ask when a terminal is there, else None (skip)."""
    value = os.environ.get(PASSPHRASE_ENV)
    if value is not None:
        return value
    if sys.stdin.isatty():
        return str(click.prompt("Passphrase (for FILE.minisig)", hide_input=True, err=True))
    return None


def write_minisig_for_bundle(home: Home, file: Path, bundle: Path, root_cid: str) -> None:
    """After a publisher command wrote FILE from BUNDLE (a folder): FILE.minisig when the
    bundle is signed by a key held in this data directory."""
    found = minisign.bundle_own_signer(home, bundle / MANIFEST_NAME)
    if found is None:
        return
    name, captured_at = found
    secret = _minisig_passphrase()
    if secret is None:
        note(f"not writing {file.name}.minisig: set {PASSPHRASE_ENV} to sign it")
        return
    signing_key = keys.load_signing_key(home, name, secret)
    sig = minisign.write_minisig_if_own_key(home, file, root_cid, captured_at, signing_key)
    if sig is not None:
        note(f"wrote {sig} (check: {minisign.verify_command(signing_key.public, file.name)})")


@main.command("export")
@click.argument("bundle", type=click.Path(exists=True, path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="HTML file to write.")
@trust_options
@click.option("--no-minisig", is_flag=True, help="Do not write OUTPUT.minisig.")
@json_option
@pass_ctx
def export_cmd(ctx: Context, bundle: Path, output: Path, trust_name: str | None,
               key_text: str | None, no_minisig: bool, as_json: bool) -> None:
    """Write BUNDLE (folder or CAR) as one self-contained HTML file.

    The file carries the signed manifest and verifies with `mirror verify FILE.html`;
    any change to its bytes in transit is detected. Without --trust/--key the bundle
    must be signed by a key held in this data directory (the publisher's own export).
    When it is, OUTPUT.minisig is written for the stock `minisign` tool too.
    """
    if trust_name or key_text:
        trusted = keys.resolve_trust(ctx.home, trust_name, key_text)
    else:
        trusted = _own_keys(ctx.home)
        if not trusted:
            raise UsageError("no signing key in this data directory: pass --trust NAME or --key KEY")
    result = export_mod.export_bundle(bundle, output, trusted)
    if not no_minisig:
        signer = minisign.own_key_by_id(ctx.home, result.verdict.key_id)
        if signer is not None:
            secret = _minisig_passphrase()
            if secret is None:
                note(f"not writing {output.name}.minisig: set {PASSPHRASE_ENV} to sign it")
            else:
                key = keys.load_signing_key(ctx.home, signer, secret)
                sig = minisign.write_minisig_if_own_key(
                    ctx.home, output, result.verdict.root_cid,
                    result.verdict.manifest.captured_at, key,
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
