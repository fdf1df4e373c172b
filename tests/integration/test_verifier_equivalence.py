"""The verifier page's JavaScript and the CLI's trust core give the same verdict (exit
code and reason) on damaged copies of genuine bundles: bytes flipped across a CAR and
an export, truncations, inserted whitespace. Runs the page's modules in Node (no
browser), so hundreds of inputs take seconds."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.verifier_cases import build_cases, python_verdict

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
