"""The verifier page's token check (mirror/verifier/js/tsp.js, in Node) against the
CLI's (mirror/timestamp.py) on tokens from real OpenSSL TSAs made in the test: ECDSA
and RSA, a TSA under an intermediate CA with and without its chain, a certificate set
out of DER order, an expired TSA certificate, and certificates without the proper
timestamping usage; each under the right root, a stranger's, and none."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from mirror.errors import VerificationError
from mirror.timestamp import build_request, format_time, verify_token
from tests.helpers.tsa import Authority, make_authority, needs_openssl

ROOT = Path(__file__).resolve().parents[2]
NODE = shutil.which("node")
DATA = bytes(range(64))  # what a token is over: a signature's 64 bytes

pytestmark = [
    needs_openssl,
    pytest.mark.skipif(NODE is None, reason="node is not installed"),
]


@pytest.fixture(scope="module")
def rsa_authority(tmp_path_factory: pytest.TempPathFactory) -> Authority:
    return make_authority(tmp_path_factory.mktemp("tsa-rsa"), "RSA TSA", key="rsa")


def tokens_of(a: Authority) -> dict[str, bytes]:
    query = build_request(DATA).as_bytes()
    genuine = a.reply(query)
    out = {
        "genuine": genuine,
        "chained-with-chain": a.reply(query, signer="chained", chain=True),
        "chained-alone": a.reply(query, signer="chained"),
        "chained-unsorted": a.reply(query, signer="chained-unsorted", chain=True),
        "expired": a.reply(query, signer="expired"),
    }
    for kind in ("tsa", "noeku", "noncritical", "extra"):
        out[f"resigned-{kind}"] = a.resign(genuine, kind)
    return out


def page_verdicts(tmp_path: Path, roots: list[dict[str, str]], items: list[tuple[bytes, bytes]]):
    listing = tmp_path / "tokens.json"
    listing.write_text(json.dumps({
        "roots": roots,
        "items": [{"token": base64.b64encode(t).decode(), "data": base64.b64encode(d).decode()}
                  for t, d in items],
    }))  # fmt: skip
    run = subprocess.run(
        [str(NODE), str(ROOT / "tests/js/tokens.mjs"), str(listing)],
        capture_output=True, text=True, timeout=300, check=True,
    )  # fmt: skip
    return [json.loads(line) for line in run.stdout.splitlines()]


def test_page_and_cli_agree_on_real_tokens(
    tmp_path: Path,
    tsa_authority: Authority,
    stranger_authority: Authority,
    rsa_authority: Authority,
) -> None:
    tokens = {
        f"{a.name}/{k}": t for a in (tsa_authority, rsa_authority) for k, t in tokens_of(a).items()
    }
    root_sets = {
        "own": [tsa_authority, rsa_authority],
        "stranger": [stranger_authority],
        "none": [],
    }
    seen = set()
    for label, authorities in root_sets.items():
        roots = [{"name": a.name, "pem": a.root_pem.read_text("ascii")} for a in authorities]
        py_roots = [a.root() for a in authorities]
        items = [(t, d) for t in tokens.values() for d in (DATA, DATA[::-1])]
        names = [f"{n} over {'its' if d == DATA else 'other'} data" for n in tokens for d in (0, 1)]
        page = page_verdicts(tmp_path, roots, items)
        for name, (token, data), v in zip(names, items, page, strict=True):
            try:
                stamp = verify_token(token, data, py_roots)
                cli: tuple[str | None, ...] = (None, format_time(stamp.time), stamp.tsa)
            except VerificationError as exc:
                cli = (exc.reason,)
            got = (v["reason"],) if v["reason"] else (None, v["time"], v["tsa"])
            assert got == cli, f"{label} roots, {name}: page {got} ({v.get('error')}), cli {cli}"
            seen.add(cli[0])
    assert seen == {None, "bad-timestamp", "untrusted-tsa"}
