"""`mirror trust tsa add|list|remove`: the reader's trusted TSA roots (real openssl PKI)."""

from __future__ import annotations

import json
from pathlib import Path

import click
from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from mirror import envelope as env
from mirror import tsa_trust
from mirror.cli.tsa import stamper, tsa_options
from mirror.config import Home
from mirror.keys import SigningKey
from mirror.timestamp import Stamper, request_token, verify_token
from tests.conftest import Mirror, snapshot
from tests.helpers.tsa import Authority, TsaServer, needs_openssl

pytestmark = needs_openssl


def test_add_list_remove(
    empty_mirror: Mirror, tsa_authority: Authority, stranger_authority: Authority
):
    m = empty_mirror
    added = m("trust", "tsa", "add", "test", tsa_authority.root_pem)
    assert added.exit_code == 0, added.stderr
    fingerprint = tsa_authority.root().fingerprint
    assert fingerprint in added.stderr and "CN=Test TSA Root" in added.stderr
    assert added.stdout == ""
    assert m("trust", "tsa", "add", "other", stranger_authority.root_pem).exit_code == 0

    listed = m("trust", "tsa", "list")
    assert listed.exit_code == 0
    assert listed.stdout.splitlines() == [
        f"other\t{stranger_authority.root().fingerprint}\tCN=Stranger TSA Root",
        f"test\t{fingerprint}\tCN=Test TSA Root",
    ]
    rows = json.loads(m("trust", "tsa", "list", "--json").stdout)
    assert [r["name"] for r in rows] == ["other", "test"]
    assert rows[1]["fingerprint"] == fingerprint and rows[1]["added"].endswith("Z")

    assert m("trust", "tsa", "remove", "other").exit_code == 0
    assert [r["name"] for r in json.loads(m("trust", "tsa", "list", "--json").stdout)] == ["test"]
    assert [r.name for r in tsa_trust.roots(Home(m.home))] == ["test"]


def test_trusted_root_verifies_tokens_under_its_name(
    empty_mirror: Mirror, tsa: TsaServer, tsa_authority: Authority
):
    assert (
        empty_mirror("trust", "tsa", "add", "newsroom-tsa", tsa_authority.root_pem).exit_code == 0
    )
    token = request_token(tsa.url, b"\x07" * 64)
    stamp = verify_token(token, b"\x07" * 64, tsa_trust.roots(Home(empty_mirror.home)))
    assert stamp.tsa == "newsroom-tsa"


def test_bad_inputs_are_one_line_exit_2_and_change_nothing(
    empty_mirror: Mirror, tsa_authority: Authority, stranger_authority: Authority, tmp_path: Path
):
    m = empty_mirror
    assert m("trust", "tsa", "add", "test", tsa_authority.root_pem).exit_code == 0
    before = snapshot(m.home)
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate\n")
    cases = [
        (["add", "leaf", tsa_authority.signer("tsa")], "not a CA certificate"),
        (["add", "junk", garbage], "not a PEM certificate"),
        (["add", "missing", tmp_path / "nope.pem"], "not found"),
        (["add", "bad name!", tsa_authority.root_pem], "invalid TSA name"),
        (["add", "test", stranger_authority.root_pem], "already trusted with another"),
        (["remove", "nobody"], "no trusted TSA named 'nobody'"),
    ]
    for args, words in cases:
        run = m("trust", "tsa", *args)
        assert run.exit_code == 2, (args, run.stderr)
        assert words in run.stderr, (args, run.stderr)
        assert len(run.stderr.strip().splitlines()) == 1, run.stderr
        assert "Traceback" not in run.stderr
    assert snapshot(m.home) == before
    # adding the same root again under the same name is a no-op, not an error
    assert m("trust", "tsa", "add", "test", tsa_authority.root_pem).exit_code == 0
    assert snapshot(m.home) == before


def test_tampered_store_is_refused_in_one_line(empty_mirror: Mirror, tsa_authority: Authority):
    m = empty_mirror
    assert m("trust", "tsa", "add", "test", tsa_authority.root_pem).exit_code == 0
    path = m.home / "trust-tsa.json"
    doc = json.loads(path.read_bytes())
    doc["roots"]["test"]["fingerprint"] = "sha256:" + "0" * 64
    path.write_text(json.dumps(doc))
    run = m("trust", "tsa", "list")
    assert run.exit_code == 2
    assert "is corrupt" in run.stderr and "fingerprint differs" in run.stderr
    path.write_text("{")
    assert m("trust", "tsa", "list").exit_code == 2


def test_list_when_none_trusted(empty_mirror: Mirror):
    run = empty_mirror("trust", "tsa", "list", "--json")
    assert run.exit_code == 0 and json.loads(run.stdout) == []


def test_tsa_options_parse_flags_and_environment(tsa: TsaServer, tsa_authority: Authority):
    """The options signing commands share: repeatable --tsa, MIRROR_TSA split on spaces."""
    seen: list[Stamper] = []

    @click.command()
    @tsa_options
    def probe(tsa: tuple[str, ...], tsa_optional: bool) -> None:
        seen.append(stamper(tsa, tsa_optional))
        signed = env.sign(env.MANIFEST_TYPE, b"{}", [SigningKey("k", Ed25519PrivateKey.generate())])
        stamped = seen[-1].stamp(signed, warn=lambda m: click.echo(m, err=True))
        click.echo("stamped" if stamped.signatures[0].tst else "unstamped")

    runner = CliRunner()
    dead = "http://127.0.0.1:9/tsr"
    run = runner.invoke(probe, ["--tsa", dead, "--tsa", tsa.url])
    assert run.exit_code == 0 and run.stdout == "stamped\n", run.output
    assert seen[-1] == Stamper((dead, tsa.url), False)
    run = runner.invoke(probe, [], env={"MIRROR_TSA": f"{dead} {tsa.url}"})
    assert run.exit_code == 0 and run.stdout == "stamped\n"
    assert seen[-1].urls == (dead, tsa.url)
    run = runner.invoke(probe, ["--tsa", dead, "--tsa-optional"])
    assert run.exit_code == 0 and run.stdout == "unstamped\n"
    assert "without a timestamp" in run.stderr
    run = runner.invoke(probe, [])
    assert run.exit_code == 0 and run.stdout == "unstamped\n" and not seen[-1].enabled
    assert runner.invoke(probe, ["--tsa-optional"]).exit_code == 2
