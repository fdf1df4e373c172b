"""Publisher and reader key commands: keygen, key show/list, trust add/list/remove."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from .. import keys, minisign, reader
from ..config import PASSPHRASE_ENV, Home
from .app import Context, emit_json, json_option, main, note, pass_ctx


def passphrase(*, confirm: bool) -> str:
    """MIRROR_PASSPHRASE, else ask on the terminal (never echoed)."""
    value = os.environ.get(PASSPHRASE_ENV)
    if value is not None:
        return value
    return str(click.prompt("Passphrase", hide_input=True, confirmation_prompt=confirm, err=True))


@main.command()
@click.option("--name", default="default", show_default=True, help="Name of the new key.")
@click.option("--force", is_flag=True, help="Replace an existing key of that name.")
@pass_ctx
def keygen(ctx: Context, name: str, force: bool) -> None:
    """Make an Ed25519 signing key, encrypted with a passphrase.

    The passphrase comes from MIRROR_PASSPHRASE or is asked for. The private key is
    written 0600 under the data directory and never replaced without --force. The
    public key line is printed on stdout.
    """
    keys.validate_name(name)
    public = keys.generate_key(ctx.home, name, passphrase(confirm=True), force=force)
    note(f"key {name!r} created, key id {public.key_id}")
    note(f"fingerprint {public.fingerprint}")
    click.echo(public.to_text())


@main.group()
def key() -> None:
    """Show and list this data directory's signing keys."""


@key.command("show")
@click.argument("name", required=False)
@click.option(
    "--minisign",
    "as_minisign",
    is_flag=True,
    help="Print the key for the stock `minisign` tool (verify command on stderr).",
)
@json_option
@pass_ctx
def key_show(ctx: Context, name: str | None, as_minisign: bool, as_json: bool) -> None:
    """Print the public key of NAME (default key if omitted) as one line.

    The line ('ed25519:<base64>') goes to stdout for `mirror trust add`; the key id
    and fingerprint go to stderr.
    """
    name = name or keys.default_key_name(ctx.home)
    public = keys.load_public(ctx.home, name)
    if as_minisign:
        click.echo(minisign.public_key_text(public))
        note(minisign.verify_command(public, "FILE"))
        return
    if as_json:
        emit_json(
            {
                "name": name,
                "public_key": public.to_text(),
                "key_id": public.key_id,
                "fingerprint": public.fingerprint,
            }
        )
        return
    click.echo(public.to_text())
    note(f"key id {public.key_id}  fingerprint {public.fingerprint}")


@key.command("list")
@json_option
@pass_ctx
def key_list(ctx: Context, as_json: bool) -> None:
    """List signing keys held in this data directory."""
    names = keys.list_keys(ctx.home)
    default = keys.load_settings(ctx.home).get("default_key")
    rows = [
        {"name": n, "key_id": keys.load_public(ctx.home, n).key_id, "default": n == default}
        for n in names
    ]
    if as_json:
        emit_json(rows)
        return
    for row in rows:
        click.echo(f"{row['name']}\t{row['key_id']}" + ("\t(default)" if row["default"] else ""))


@main.group()
def trust() -> None:
    """Manage the publisher keys this reader trusts."""


@trust.command("add")
@click.argument("name")
@click.argument("key_value", metavar="KEY")
@pass_ctx
def trust_add(ctx: Context, name: str, key_value: str) -> None:
    """Trust KEY ('ed25519:<base64>' or a file holding it) under NAME.

    Compare the fingerprint printed on stderr with the one the publisher
    announces through a channel you already trust.
    """
    entry = keys.trust_add(ctx.home, name, keys.parse_key_argument(key_value))
    note(f"trusting {name!r}: key id {entry.key.key_id}")
    note(f"fingerprint {entry.key.fingerprint}")


@trust.command("list")
@json_option
@pass_ctx
def trust_list(ctx: Context, as_json: bool) -> None:
    """List trusted publisher keys."""
    trusted = keys.load_trust(ctx.home)
    rows = [
        {"name": t.name, "public_key": t.key.to_text(), "key_id": t.key.key_id, "added": t.added}
        for t in trusted.values()
    ]
    if as_json:
        emit_json(rows)
        return
    for row in rows:
        click.echo(f"{row['name']}\t{row['key_id']}\t{row['public_key']}")


@trust.command("remove")
@click.argument("name")
@pass_ctx
def trust_remove(ctx: Context, name: str) -> None:
    """Stop trusting NAME."""
    keys.trust_remove(ctx.home, name)
    note(f"no longer trusting {name!r}")


# -- .minisig files for stock minisign (publisher commands) ------------------------------


def minisig_passphrase() -> str | None:
    """MIRROR_PASSPHRASE, else ask when a terminal is there, else None (skip)."""
    value = os.environ.get(PASSPHRASE_ENV)
    if value is not None:
        return value
    if sys.stdin.isatty():
        return str(click.prompt("Passphrase (for FILE.minisig)", hide_input=True, err=True))
    return None


def minisig_key(home: Home, name: str, file: Path) -> keys.SigningKey | None:
    """The key NAME unlocked to write FILE.minisig, or None (said on stderr) when no
    passphrase is at hand."""
    secret = minisig_passphrase()
    if secret is None:
        note(f"not writing {file.name}.minisig: set {PASSPHRASE_ENV} to sign it")
        return None
    return keys.load_signing_key(home, name, secret)


def write_minisig_for_bundle(home: Home, file: Path, bundle: Path, root_cid: str) -> None:
    """After a publisher command wrote FILE from BUNDLE (a folder): FILE.minisig when the
    bundle is signed by a key held in this data directory."""
    found = reader.own_bundle_signer(home, bundle)
    if found is None:
        return
    name, captured_at = found
    signing_key = minisig_key(home, name, file)
    if signing_key is None:
        return
    sig = minisign.write_minisig_if_own_key(home, file, root_cid, captured_at, signing_key)
    if sig is not None:
        note(f"wrote {sig} (check: {minisign.verify_command(signing_key.public, file.name)})")
