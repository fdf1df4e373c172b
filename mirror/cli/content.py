"""Content commands: cid, car, bundle, verify, unpack."""

from __future__ import annotations

from pathlib import Path

import click

from .. import audit, keys, reader
from ..errors import UsageError, VerificationError
from ..ipld import car as car_mod
from ..ipld import unixfs
from ..publisher import load_signer
from ..store import storage_error
from .app import Context, F, emit_json, json_option, main, note, pass_ctx
from .keys import passphrase, write_minisig_for_bundle
from .tsa import stamper, tsa_options


def trust_options(f: F) -> F:
    """--trust NAME | --key KEY: whose signature a reader accepts."""
    f = click.option(
        "--key", "key_text", metavar="KEY", help="Trust this key ('ed25519:...' or a file)."
    )(f)
    return click.option("--trust", "trust_name", metavar="NAME", help="Trusted publisher name.")(f)


@main.command()
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@pass_ctx
def cid(ctx: Context, path: Path) -> None:
    """Print the CID of a file or folder (unixfs-v1-2025, as Kubo computes it)."""
    result = unixfs.add_path(path)
    for name in result.skipped_hidden:
        note(f"left out hidden file: {name}")
    click.echo(result.root.encode())


@main.command()
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="CAR file to write (its folder is created with its parents).",
)
@pass_ctx
def car(ctx: Context, path: Path, output: Path) -> None:
    """Write PATH (a bundle folder or any file/folder) as a CARv1 file; print the root CID."""
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise storage_error(exc, output) from exc
    result = car_mod.write_car(path, output)
    for name in result.skipped_hidden:
        note(f"left out hidden file: {name}")
    note(f"wrote {output}")
    if path.is_dir():  # a bundle signed by a key held here also gets OUTPUT.minisig
        write_minisig_for_bundle(ctx.home, output, path, result.root.encode())
    click.echo(result.root.encode())


@main.command()
@click.argument("src", type=click.Path(exists=True, path_type=Path))
@click.option(
    "-o",
    "--output",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Bundle folder to write (created with its parents).",
)
@click.option("--url", default=None, help="Original URL of the article.")
@click.option("--title", default=None, help="Article title (default: the page's <title>).")
@click.option("--key-name", default=None, help="Signing key (default: the default key).")
@click.option(
    "--extract",
    is_flag=True,
    help="Extract the article from the page (for a saved full web page); by default the "
    "page is bundled as given, its whole body.",
)
@click.option(
    "--profile",
    "profile_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Site profile (TOML: content and remove selectors, title, byline, date) used "
    "instead of the extractor when it matches; see docs/profile-example.toml.",
)
@tsa_options
@pass_ctx
def bundle(
    ctx: Context,
    src: Path,
    output: Path,
    url: str | None,
    title: str | None,
    key_name: str | None,
    extract: bool,
    profile_file: Path | None,
    tsa: tuple[str, ...],
    tsa_optional: bool,
) -> None:
    """Build a signed bundle from a local HTML file or a folder with index.html.

    The page is kept whole (sanitized, every image it references stored in the
    bundle) unless --extract or a matching --profile. Prints the root CID on stdout.
    """
    from ..capture import local  # the capture stack loads for a bundle only

    options = local.LocalOptions(url, title, extract, local.read_profile(profile_file))
    stamps = stamper(tsa, tsa_optional, warn=note, home=ctx.home)
    signer = load_signer(ctx.home, passphrase(confirm=False), key_name, stamper=stamps)
    result = local.bundle_local(src, output, options, signer=signer)
    for name in result.skipped_hidden:
        note(f"left out hidden file: {name}")
    note(
        f"wrote bundle {output} ({len(result.manifest.files)} files), "
        f"signed by {signer.key.public.key_id}"
    )
    click.echo(result.root.encode())


@main.command()
@click.argument("target", type=click.Path(path_type=Path), required=False)
@click.option(
    "--all",
    "check_all",
    is_flag=True,
    help="Check every key, trust entry, bundle, feed and state file of the data directory.",
)
@click.option(
    "--repair",
    is_flag=True,
    help="With --all: remove leftovers of interrupted writes, rewrite missing .pub files.",
)
@trust_options
@json_option
@pass_ctx
def verify(
    ctx: Context,
    target: Path | None,
    check_all: bool,
    repair: bool,
    trust_name: str | None,
    key_text: str | None,
    as_json: bool,
) -> None:
    """Verify a bundle folder or CAR file against a trusted publisher key.

    Exit 0 when every byte is what the publisher signed, 3 when anything is not.
    With --all (no TARGET): check the whole data directory, one line per finding.
    """
    if check_all:
        if target is not None or trust_name or key_text:
            raise UsageError("--all takes no TARGET, --trust or --key")
        _verify_all(ctx, repair, as_json)
        return
    if target is None or repair:
        raise UsageError("give a TARGET to verify, or --all [--repair]")
    trusted = keys.resolve_trust(ctx.home, trust_name, key_text)
    verdict = reader.verify(ctx.home, target, trusted)
    if as_json:
        emit_json(verdict.to_dict())
        return
    d = verdict.to_dict()
    click.echo(f"verified: signed by {d['publisher']} ({d['key_id']})")
    click.echo(f"title:    {d['title']}")
    click.echo(f"url:      {d['url']}")
    click.echo(f"captured: {d['captured_at']}")
    click.echo(f"root:     {d['root_cid']}")
    click.echo(f"files:    {d['files_checked']} checked")
    if verdict.timestamp is not None:
        stamp = verdict.timestamp.to_dict()
        click.echo(f"timestamp: existed by {stamp['time']} (TSA {stamp['tsa']})")


def _verify_all(ctx: Context, repair: bool, as_json: bool) -> None:
    report = audit.audit_home(ctx.home, repair=repair)
    if as_json:
        emit_json(report.to_dict())
    else:
        for finding in report.findings:
            click.echo(str(finding))
        counts = ", ".join(f"{n} {kind}" for kind, n in report.checked.items()) or "nothing"
        note(f"checked {counts} in {report.home}")
    if not report.ok:
        raise VerificationError(f"{len(report.problems)} problem(s) found in {report.home}")


@main.command()
@click.argument(
    "car_file", metavar="FILE.car", type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.argument("dest", metavar="DIR", type=click.Path(file_okay=False, path_type=Path))
@trust_options
@click.option(
    "--force",
    is_flag=True,
    help="Write into DIR although it is not empty: the bundle's files replace same-named "
    "files (never written through a link), everything else in DIR stays.",
)
@json_option
@pass_ctx
def unpack(
    ctx: Context,
    car_file: Path,
    dest: Path,
    trust_name: str | None,
    key_text: str | None,
    force: bool,
    as_json: bool,
) -> None:
    """Verify FILE.car, then extract the bundle into DIR (never outside it).

    DIR must be empty or absent unless --force; nothing in it changes when the CAR
    does not verify.
    """
    trusted = keys.resolve_trust(ctx.home, trust_name, key_text)
    verdict = reader.unpack(ctx.home, car_file, dest, trusted, force=force)
    if as_json:
        emit_json({**verdict.to_dict(), "output": str(dest)})
        return
    note(f"verified and unpacked {verdict.files_checked} files into {dest}")
    click.echo(verdict.root_cid)
