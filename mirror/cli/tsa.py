"""Reader commands for trusted timestamp authorities: trust tsa add/list/remove."""

from __future__ import annotations

from pathlib import Path

import click

from .. import tsa_trust
from .app import Context, emit_json, json_option, note, pass_ctx
from .keys import trust


@trust.group("tsa")
def trust_tsa() -> None:
    """Manage the timestamp authorities (TSA root certificates) this reader trusts.

    A bundle's RFC 3161 timestamps count only when the TSA's certificate chains to
    a root trusted here (or listed by the publisher's identity).
    """


@trust_tsa.command("add")
@click.argument("name")
@click.argument("certificate", metavar="CERT.pem", type=click.Path(dir_okay=False, path_type=Path))
@pass_ctx
def tsa_add(ctx: Context, name: str, certificate: Path) -> None:
    """Trust the TSA root certificate in CERT.pem (PEM, self-signed CA) under NAME.

    Compare the SHA-256 fingerprint printed on stderr with the one the TSA
    publishes.
    """
    entry = tsa_trust.add(ctx.home, name, certificate)
    note(f"trusting TSA {name!r}: {entry.to_dict()['subject']}")
    note(f"fingerprint {entry.root.fingerprint}")


@trust_tsa.command("list")
@json_option
@pass_ctx
def tsa_list(ctx: Context, as_json: bool) -> None:
    """List trusted TSA roots: name, fingerprint, subject."""
    rows = [t.to_dict() for t in tsa_trust.load(ctx.home).values()]
    if as_json:
        emit_json(rows)
        return
    for row in rows:
        click.echo(f"{row['name']}\t{row['fingerprint']}\t{row['subject']}")


@trust_tsa.command("remove")
@click.argument("name")
@pass_ctx
def tsa_remove(ctx: Context, name: str) -> None:
    """Stop trusting the TSA root NAME."""
    tsa_trust.remove(ctx.home, name)
    note(f"no longer trusting TSA {name!r}")
