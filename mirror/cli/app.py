"""The root click group, shared options, rendering helpers and the error boundary.

This package is the only place that imports click. Each command parses its
arguments, calls one core function, renders the result and returns; MirrorError
is turned into one line on stderr and its exit code here, once.
"""

from __future__ import annotations

import json
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import click

from .. import __version__
from ..config import Home
from ..errors import EXIT_INTERNAL, MirrorError, refusal

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True, slots=True)
class Context:
    home: Home
    verbose: bool


class MirrorGroup(click.Group):
    """Catches MirrorError once: one line on stderr, the error's exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except MirrorError as exc:
            verbose = isinstance(ctx.obj, Context) and ctx.obj.verbose
            if verbose:
                traceback.print_exc()
            click.echo(f"mirror: error: {exc.message}", err=True)
            if ctx.meta.get(JSON_META):  # tools reading --json get the verdict too
                emit_json(refusal(exc))
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("mirror: interrupted", err=True)
            ctx.exit(130)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except Exception as exc:  # a bug: say so in one line unless -v
            if isinstance(ctx.obj, Context) and ctx.obj.verbose:
                traceback.print_exc()
            first = str(exc).splitlines()[0] if str(exc) else ""
            click.echo(
                f"mirror: internal error ({type(exc).__name__}: {first}); "
                "run with -v for the traceback and report it",
                err=True,
            )
            ctx.exit(EXIT_INTERNAL)


@click.group(cls=MirrorGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--home",
    type=click.Path(file_okay=False),
    envvar="MIRROR_HOME",
    help="Data directory (keys, trust, state). Default: MIRROR_HOME or ~/.local/share/mirror.",
)
@click.option("-v", "--verbose", is_flag=True, help="Show tracebacks and more detail on errors.")
@click.version_option(__version__, prog_name="mirror")
@click.pass_context
def main(ctx: click.Context, home: str | None, verbose: bool) -> None:
    """Keep journalism readable where it is censored.

    Publishers capture and sign articles as content-addressed bundles for IPFS;
    readers fetch them from any node, gateway or file and verify them against the
    publisher's key; volunteers follow a publisher's signed feed and pin every bundle.

    Exit codes: 0 ok, 1 internal error, 2 usage or malformed input, 3 verification
    failed, 4 network or IPFS failure, 5 safety limit exceeded, 6 file-system error.
    """
    ctx.obj = Context(home=Home.resolve(home), verbose=verbose)


pass_ctx = click.make_pass_decorator(Context)


JSON_META = "mirror.json"


def _remember_json(ctx: click.Context, _param: click.Parameter, value: bool) -> bool:
    ctx.meta[JSON_META] = value  # meta is shared with the root context's error handler
    return value


def json_option(f: F) -> F:
    return click.option(
        "--json",
        "as_json",
        is_flag=True,
        callback=_remember_json,
        help="Print the result as JSON (on failure: {ok: false, exit_code, reason, error}).",
    )(f)


def emit_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, ensure_ascii=False))


def note(message: str) -> None:
    """Status and warnings go to stderr so stdout carries only results."""
    click.echo(message, err=True)
