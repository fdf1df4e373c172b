"""Publisher identity commands: show, init, rotate, revoke, sign, resign."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import click

from .. import identity as ident
from .. import identity_state, keys, publisher
from .. import resign as resign_mod
from ..errors import UsageError
from .app import Context, emit_json, json_option, main, note, pass_ctx
from .keys import passphrase


def _ttl(days: int) -> timedelta:
    if not 1 <= days <= 3660:
        raise UsageError("--expires-days must be between 1 and 3660")
    return timedelta(days=days)


def expires_option(f: Any) -> Any:
    return click.option(
        "--expires-days",
        type=int,
        default=ident.DEFAULT_TTL.days,
        show_default=True,
        help="The new version expires after this many days.",
    )(f)


def _describe(home_keys: dict[keys.PublicKey, str], doc: ident.Identity) -> dict[str, Any]:
    def row(k: keys.PublicKey) -> dict[str, Any]:
        return {"public_key": k.to_text(), "key_id": k.key_id, "local_name": home_keys.get(k)}

    return {
        "name": doc.name,
        "version": doc.version,
        "expires": doc.expires,
        "threshold": doc.threshold,
        "keys": [row(k) for k in doc.keys],
        "revoked": [row(k) for k in doc.revoked],
        "previous": doc.previous,
    }


def _local_names(ctx: Context) -> dict[keys.PublicKey, str]:
    return {keys.load_public(ctx.home, n): n for n in keys.list_keys(ctx.home)}


def _report(status: publisher.SignStatus) -> None:
    old = (
        f"previous keys {status.old_signed}/{status.old_threshold}, "
        if status.old_threshold
        else ""
    )
    counts = f"{old}own keys {status.new_signed}/{status.new_threshold}"
    if status.complete:
        note(f"identity {status.name!r} version {status.version} is now current ({counts})")
    else:
        note(f"identity {status.name!r} version {status.version} needs more signatures ({counts})")
        note(f"run `mirror identity sign {status.path}` where the other keys are held")
    click.echo(str(status.path))


@main.group()
def identity() -> None:
    """The publisher's identity: its keys, threshold, rotations and revocations.

    Readers who trusted one key of the identity follow every rotation the
    identity's keys signed; bundles carry the chain as identity.json.
    """


@identity.command("show")
@click.option("--chain", is_flag=True, help="Print the whole signed chain (identity.json).")
@json_option
@pass_ctx
def show(ctx: Context, chain: bool, as_json: bool) -> None:
    """Show the current identity version of this data directory."""
    current = publisher.require_chain(ctx.home)
    if chain:
        click.echo(current.to_bytes().decode("utf-8"), nl=False)
        return
    info = _describe(_local_names(ctx), current.current)
    pending = publisher.pending(ctx.home)
    info["pending"] = str(pending) if pending else None
    info["expired"] = current.current.expired()
    if as_json:
        emit_json(info)
        return
    click.echo(f"identity:  {info['name']} version {info['version']}")
    click.echo(f"expires:   {info['expires']}" + ("  (EXPIRED)" if info["expired"] else ""))
    click.echo(f"threshold: {info['threshold']} of {len(info['keys'])}")
    for row in info["keys"]:
        click.echo(f"key:       {row['key_id']}  {row['local_name'] or '(held elsewhere)'}")
    for row in info["revoked"]:
        click.echo(f"revoked:   {row['key_id']}")
    if pending:
        click.echo(f"pending:   {pending}")


@identity.command("init")
@click.option("--name", default=None, help="Publisher name (default: the signing key's name).")
@click.option("--key-name", default=None, help="Signing key (default: the default key).")
@expires_option
@pass_ctx
def init(ctx: Context, name: str | None, key_name: str | None, expires_days: int) -> None:
    """Make identity version 1: the signing key alone, threshold 1."""
    signing = keys.load_signing_key(ctx.home, key_name, passphrase(confirm=False))
    link = publisher.init(ctx.home, signing, name=name or signing.name, ttl=_ttl(expires_days))
    note(f"identity {link.identity.name!r} version 1 with key {signing.public.key_id}")
    click.echo(str(identity_state.identity_dir(ctx.home) / "v1.json"))


@identity.command("rotate")
@click.option("--add", "add", multiple=True, metavar="KEY", help="Key to add (name, line or file).")
@click.option(
    "--remove", "remove", multiple=True, metavar="KEY", help="Key to retire in good standing."
)
@click.option("--threshold", type=int, default=None, help="Signatures required from now on.")
@expires_option
@pass_ctx
def rotate(
    ctx: Context,
    add: tuple[str, ...],
    remove: tuple[str, ...],
    threshold: int | None,
    expires_days: int,
) -> None:
    """Make the next identity version (no options: renew the expiry).

    It is signed by every key held here; when the previous version's or the new
    version's threshold is not met, it is written to identity/pending.json for
    `mirror identity sign` on the machines holding the other keys.
    """
    chain = publisher.require_chain(ctx.home)
    doc = publisher.next_version(
        chain,
        add=[publisher.resolve_key(ctx.home, k) for k in add],
        remove=[publisher.resolve_key(ctx.home, k) for k in remove],
        threshold=threshold,
        ttl=_ttl(expires_days),
    )
    _report(publisher.propose(ctx.home, doc, passphrase(confirm=False)))


@identity.command("revoke")
@click.argument("key_value", metavar="KEY")
@click.option("--add", "add", multiple=True, metavar="KEY", help="Key to add in the same version.")
@click.option("--threshold", type=int, default=None, help="Signatures required from now on.")
@expires_option
@pass_ctx
def revoke(
    ctx: Context, key_value: str, add: tuple[str, ...], threshold: int | None, expires_days: int
) -> None:
    """Revoke a compromised KEY: the next version lists it as revoked.

    Its signatures count for nothing from then on, also on bundles it signed before,
    unless current keys re-signed them (`mirror identity resign`).
    """
    chain = publisher.require_chain(ctx.home)
    doc = publisher.next_version(
        chain,
        add=[publisher.resolve_key(ctx.home, k) for k in add],
        revoke=[publisher.resolve_key(ctx.home, key_value)],
        threshold=threshold,
        ttl=_ttl(expires_days),
    )
    _report(publisher.propose(ctx.home, doc, passphrase(confirm=False)))


@identity.command("sign")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--key-name", "key_names", multiple=True, help="Sign with this key (repeatable).")
@pass_ctx
def sign(ctx: Context, file: Path, key_names: tuple[str, ...]) -> None:
    """Co-sign a pending identity version FILE (rewritten in place).

    Without --key-name every key held here that belongs to the new or the previous
    version signs. When FILE extends this data directory's identity and is now fully
    signed, it becomes the current version.
    """
    status = publisher.cosign(ctx.home, file, passphrase(confirm=False), key_names)
    _report(status)


@identity.command("resign")
@click.argument("bundles", nargs=-1, type=click.Path(file_okay=False, path_type=Path))
@json_option
@pass_ctx
def resign(ctx: Context, bundles: tuple[Path, ...], as_json: bool) -> None:
    """Re-sign BUNDLES (folders) with the current identity's keys.

    Use it after a revocation, for bundles you know you published: their content is
    unchanged, the manifest is signed again under the current identity version, and
    the root CID changes (push the bundles again). Prints one new root CID per line.
    """
    if not bundles:
        raise UsageError("give the bundle folders to re-sign")
    results = resign_mod.resign(ctx.home, list(bundles), passphrase(confirm=False))
    if as_json:
        emit_json(
            [
                {
                    "path": str(r.path),
                    "root_cid": r.root_cid,
                    "old_version": r.old_version,
                    "version": r.version,
                }
                for r in results
            ]
        )
        return
    for r in results:
        note(f"re-signed {r.path} under identity version {r.version}")
        click.echo(r.root_cid)
