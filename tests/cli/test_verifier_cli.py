"""`mirror verifier`: one HTML file with the named keys (and chains) and gateways
embedded, a .minisig when an embedded key is held here, one-line errors."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from mirror import minisign
from mirror.errors import VerificationError
from mirror.keys import PublicKey
from tests.conftest import Mirror


def config_of(page: Path) -> dict:  # type: ignore[type-arg]
    text = page.read_text(encoding="utf-8")
    m = re.search(r'<script type="application/json" id="mirror-config">(.*?)</script>', text, re.S)
    assert m is not None
    return json.loads(m.group(1))  # type: ignore[no-any-return]


def test_publisher_page_embeds_own_key_and_is_signed(mirror: Mirror, tmp_path: Path) -> None:
    out = tmp_path / "verify.html"
    r = mirror("verifier", "-o", out, "--gateway", "https://gw.example/")
    assert r.exit_code == 0, r.stderr
    assert r.stdout.strip() == str(out)
    cfg = config_of(out)
    names = sorted(k["name"] for k in cfg["trust"])
    assert names == ["other", "pub"]  # the keys held here, by default
    assert cfg["gateways"] == ["https://gw.example"]
    assert out.stat().st_size < 200 * 1024
    sig = out.with_name("verify.html.minisig")
    assert sig.is_file()
    signer = PublicKey.from_text(mirror("key", "show", "other").stdout.strip())
    verdict = minisign.verify_minisig(out, sig.read_bytes(), signer)  # the first key held here
    assert str(out.name) in verdict.trusted_comment
    out.write_bytes(out.read_bytes() + b" ")
    with pytest.raises(VerificationError):
        minisign.verify_minisig(out, sig.read_bytes(), signer)


def test_reader_page_with_trusted_name_only(mirror: Mirror, tmp_path: Path) -> None:
    out = tmp_path / "v.html"
    r = mirror("verifier", "-o", out, "--trust", "pub", "--no-minisig")
    assert r.exit_code == 0, r.stderr
    cfg = config_of(out)
    assert [k["name"] for k in cfg["trust"]] == ["pub"]
    assert cfg["trust"][0]["key"] == mirror("key", "show", "pub").stdout.strip()
    assert not out.with_name("v.html.minisig").exists()


def test_unknown_name_and_bad_gateway_are_one_line_exit_2(mirror: Mirror, tmp_path: Path) -> None:
    r = mirror("verifier", "-o", tmp_path / "v.html", "--trust", "nobody")
    assert r.exit_code == 2 and "nobody" in r.stderr and "Traceback" not in r.stderr
    r = mirror("verifier", "-o", tmp_path / "v.html", "--trust", "pub", "--gateway", "ftp://x")
    assert r.exit_code == 2 and "gateway" in r.stderr
    assert not (tmp_path / "v.html").exists()


def test_empty_home_has_nothing_to_embed(empty_mirror: Mirror, tmp_path: Path) -> None:
    r = empty_mirror("verifier", "-o", tmp_path / "v.html")
    assert r.exit_code == 2 and "trust" in r.stderr


def test_remembered_identity_chain_is_embedded(empty_mirror: Mirror, tmp_path: Path) -> None:
    """A reader who verified a bundle signed after a rotation ships the chain it learnt."""
    from tests.verifier_cases import build_cases

    cases = {c.name: c for c in build_cases(tmp_path / "cases")}
    rotated = cases["car-after-rotation"]
    assert empty_mirror("trust", "add", "pub", rotated.trust[0]["key"]).exit_code == 0
    assert empty_mirror("verify", rotated.path, "--trust", "pub").exit_code == 0
    out = tmp_path / "v.html"
    assert empty_mirror("verifier", "-o", out, "--trust", "pub").exit_code == 0
    chain = config_of(out)["trust"][0]["chain"]
    assert chain["format"] == "mirror-identity-chain/1" and len(chain["versions"]) == 3


def test_reader_tsa_roots_travel_with_the_keys(mirror: Mirror, tmp_path: Path) -> None:
    out = tmp_path / "v.html"
    assert mirror("verifier", "-o", out, "--trust", "pub", "--no-minisig").exit_code == 0
    assert "tsa" not in config_of(out)  # none trusted: the config is as before
    material = Path(__file__).resolve().parents[2] / "manifests" / "timestamps" / "material.json"
    pem = json.loads(material.read_text(encoding="utf-8"))["roots"]["corpus-tsa"]
    (tmp_path / "root.pem").write_text(pem, encoding="ascii")
    assert mirror("trust", "tsa", "add", "newsroom-tsa", tmp_path / "root.pem").exit_code == 0
    assert mirror("verifier", "-o", out, "--trust", "pub", "--no-minisig").exit_code == 0
    assert config_of(out)["tsa"] == [{"name": "newsroom-tsa", "pem": pem}]
