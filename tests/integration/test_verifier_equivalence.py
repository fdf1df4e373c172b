"""The verifier page's JavaScript and the CLI's trust core give the same verdict (exit
code and reason) on damaged copies of genuine bundles: bytes flipped across a CAR and
an export, truncations, inserted whitespace. Runs the page's modules in Node (no
browser), so hundreds of inputs take seconds."""

from __future__ import annotations

import base64
import json
import random
import shutil
import subprocess
from pathlib import Path

import pytest

from mirror.errors import VerificationError
from mirror.export_format import PAGE, render
from mirror.identity import CHAIN_NAME
from mirror.reader import check_path, page_files
from mirror.timestamp import TsaRoot, format_time, verify_token
from mirror.verify import check_export
from tests.verifier_cases import _trust, build_cases, python_verdict

ROOT = Path(__file__).resolve().parents[2]
NODE = shutil.which("node")

pytestmark = pytest.mark.skipif(NODE is None, reason="node is not installed")


def mutations(data: bytes, rng: random.Random, count: int) -> list[bytes]:
    out = []
    for _ in range(count):
        pos = rng.randrange(len(data))
        kind = rng.choice(["flip", "flip", "truncate", "insert"])
        if kind == "flip":
            b = bytearray(data)
            b[pos] ^= 1 << rng.randrange(8)
            out.append(bytes(b))
        elif kind == "truncate":
            out.append(data[:pos])
        else:
            out.append(data[:pos] + rng.choice([b" ", b"\n", b"\x00", b"a"]) + data[pos:])
    return out


def test_damaged_copies_get_the_same_verdict(tmp_path: Path) -> None:
    cases = {c.name: c for c in build_cases(tmp_path / "cases")}
    rng = random.Random(11)  # fixed: the same inputs on every run
    items = []
    for name in ("car-genuine", "export-genuine", "car-after-rotation", "export-after-rotation"):
        case = cases[name]
        for i, data in enumerate(mutations(case.path.read_bytes(), rng, 80)):
            path = tmp_path / f"{name}-{i}{case.path.suffix}"
            path.write_bytes(data)
            items.append((path, case))
    listing = tmp_path / "list.json"
    listing.write_text(
        json.dumps([{"path": str(p), "name": p.name, "options": c.options()} for p, c in items])
    )
    run = subprocess.run(
        [str(NODE), str(ROOT / "tests/js/verdicts.mjs"), str(listing)],
        capture_output=True, text=True, timeout=600, check=True,
    )  # fmt: skip
    verdicts = [json.loads(line) for line in run.stdout.splitlines()]
    assert len(verdicts) == len(items)
    differ = []
    for (path, case), v in zip(items, verdicts, strict=True):
        page = (0 if v["ok"] else v["exit_code"], v["reason"])
        cli = python_verdict(path, case.trust, case.state)
        if page != cli:
            differ.append(f"{path.name}: page {page} ({v.get('error')}), cli {cli}")
    assert not differ, "\n".join(differ[:20])
    # the damage was seen: most copies are refused
    assert sum(1 for v in verdicts if not v["ok"]) > len(verdicts) * 0.7


STAMPED = ROOT / "manifests" / "vectors" / "verdicts"
MATERIAL = ROOT / "manifests" / "timestamps" / "material.json"


def _stamped_signature(case: str) -> tuple[bytes, bytes]:
    env = json.loads((STAMPED / case / "bundle" / "manifest.json").read_bytes())
    first = env["signatures"][0]
    return base64.b64decode(first["sig"]), base64.b64decode(first["tst"])


@pytest.mark.parametrize(
    "case", ["timestamp-before-rotation-folder", "timestamp-untrusted-tsa-folder"]
)
def test_damaged_tokens_get_the_same_reason(tmp_path: Path, case: str) -> None:
    """Every byte of a committed token changed in turn (one bit, another bit, all
    bits): the page's token check
    (tsp.js) and the CLI's (mirror/timestamp.py) agree on verified, bad-timestamp or
    untrusted-tsa, under the corpus TSA's root."""
    roots_pem = json.loads(MATERIAL.read_text(encoding="utf-8"))["roots"]
    roots = [{"name": "corpus-tsa", "pem": roots_pem["corpus-tsa"]}]
    py_roots = [TsaRoot.from_pem(r["name"], r["pem"].encode("ascii")) for r in roots]
    sig, token = _stamped_signature(case)
    changes = [(at, mask) for at in range(len(token)) for mask in (1 << (at % 8), 0x08, 0x88, 0xFF)]
    tokens = [token] + [
        token[:at] + bytes([token[at] ^ mask]) + token[at + 1 :] for at, mask in changes
    ]
    listing = tmp_path / "tokens.json"
    listing.write_text(json.dumps({
        "roots": roots,
        "items": [{"token": base64.b64encode(t).decode(), "data": base64.b64encode(sig).decode()}
                  for t in tokens],
    }))  # fmt: skip
    run = subprocess.run(
        [str(NODE), str(ROOT / "tests/js/tokens.mjs"), str(listing)],
        capture_output=True, text=True, timeout=600, check=True,
    )  # fmt: skip
    page = [json.loads(line) for line in run.stdout.splitlines()]
    assert len(page) == len(tokens)
    differ = []
    for i, (t, v) in enumerate(zip(tokens, page, strict=True)):
        try:
            stamp = verify_token(t, sig, py_roots)
            cli: tuple[str | None, ...] = (None, format_time(stamp.time), stamp.tsa)
        except VerificationError as exc:  # anything else (an internal error) fails the test
            cli = (exc.reason,)
            if "token is damaged" in exc.message:
                # a certificate field the CLI's parser cannot read: both refuse (exit 3);
                # the page, finding no chain through it, may name it untrusted-tsa
                if v["reason"] not in ("bad-timestamp", "untrusted-tsa"):
                    differ.append(f"change {changes[i - 1]}: page {v}, cli {cli}")
                continue
        got = (v["reason"],) if v["reason"] else (None, v["time"], v["tsa"])
        if got != cli:
            where = changes[i - 1] if i else "none"
            differ.append(f"change {where}: page {got} ({v.get('error')}), cli {cli}")
    assert not differ, "\n".join(differ[:20])


def test_stamped_verdict_json_is_the_clis(tmp_path: Path) -> None:
    """The whole verdict of a stamped CAR, `timestamp` included, as `mirror verify --json`."""
    folder = STAMPED / "timestamp-before-rotation-car"
    case = json.loads((folder / "case.json").read_text(encoding="utf-8"))
    target = folder / case["input"]
    options = {k: case[k] for k in ("trust", "state", "now")}
    listing = tmp_path / "list.json"
    listing.write_text(json.dumps([{"path": str(target), "name": target.name, "options": options}]))
    run = subprocess.run(
        [str(NODE), str(ROOT / "tests/js/verdicts.mjs"), str(listing)],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    page = json.loads(run.stdout)
    cli = check_path(target, _trust(case["trust"], case["state"])).to_dict()
    assert page == cli
    assert page["timestamp"] == {"time": "2026-12-01T09:38:19Z", "tsa": "corpus-tsa"}


def test_stamped_export_shows_its_time_and_verifies_alike(tmp_path: Path) -> None:
    """An export of a stamped bundle opens its body with the time its token claims; the
    CLI and the page take it apart, verify it and report the same verdict, and an edit
    of that line is refused by both."""
    folder = STAMPED / "timestamp-before-rotation-car"
    case = json.loads((folder / "case.json").read_text(encoding="utf-8"))
    trust = _trust(case["trust"], case["state"])
    car = folder / case["input"]
    verdict = check_path(car, trust)
    files = page_files(car, verdict)
    page = files.pop(PAGE)
    chain = files.pop(CHAIN_NAME, None)
    data = render(page, files, verdict.manifest_json, chain)
    line = "signature existed by 2026-12-01T09:38:19Z (an RFC 3161 token in this file"
    assert line in data.decode("utf-8")
    edited = data.replace(b"existed by 2026-12-01T09:38:19Z", b"existed by 2020-01-01T00:00:00Z")
    options = {k: case[k] for k in ("trust", "state", "now")}
    listing = []
    for name, content in (("stamped.html", data), ("edited.html", edited)):
        (tmp_path / name).write_bytes(content)
        listing.append({"path": str(tmp_path / name), "name": name, "options": options})
    (tmp_path / "list.json").write_text(json.dumps(listing))
    run = subprocess.run(
        [str(NODE), str(ROOT / "tests/js/verdicts.mjs"), str(tmp_path / "list.json")],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    page_verdicts = [json.loads(x) for x in run.stdout.splitlines() if x.strip()]
    cli = check_export(data, trust).to_dict()
    assert page_verdicts[0] == cli
    assert cli["timestamp"] == {"time": "2026-12-01T09:38:19Z", "tsa": "corpus-tsa"}
    with pytest.raises(VerificationError) as refused:
        check_export(edited, trust)
    assert page_verdicts[1]["reason"] == refused.value.reason
    assert page_verdicts[1]["ok"] is False
