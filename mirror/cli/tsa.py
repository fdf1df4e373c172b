"""Timestamps on the command line: trust tsa add/list/remove, and the --tsa options.

Signing commands take `@tsa_options` and turn what it parsed into a Stamper with
`stamper(tsa, tsa_optional)`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from .. import tsa_trust
from ..config import Home
from ..timestamp import Stamper
from .app import Context, emit_json, json_option, note, pass_ctx
from .keys import trust

F = TypeVar("F", bound=Callable[..., Any])
TSA_ENV = "MIRROR_TSA"


def tsa_options(f: F) -> F:
    """--tsa URL (repeatable; MIRROR_TSA, space-separated) and --tsa-optional."""
    f = click.option(
        "--tsa-optional",
        is_flag=True,
        help="Sign anyway when no TSA answers (the signature then has no timestamp).",
    )(f)
    return click.option(
        "--tsa",
        "tsa",
        metavar="URL",
        multiple=True,
        envvar=TSA_ENV,
        help="RFC 3161 timestamp authority to stamp each new signature (repeatable, tried "
        "in order; also MIRROR_TSA, space-separated). A TSA failure is exit 4.",
    )(f)


def stamper(
    tsa: tuple[str, ...],
    tsa_optional: bool,
    *,
    warn: Callable[[str], None] | None = None,
    home: Home | None = None,
) -> Stamper:
    """With `home`, new tokens must verify against the roots that data directory
    trusts (its own and its identity's), so it never signs what it would refuse."""
    if tsa_optional and not tsa:
        raise click.UsageError("--tsa-optional needs --tsa URL (or MIRROR_TSA)")
    roots = tsa_trust.signing_roots(home) if home is not None and tsa else None
    return Stamper(tuple(tsa), tsa_optional, warn=warn, roots=roots)


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
