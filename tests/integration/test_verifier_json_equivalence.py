"""The verifier page's strict JSON (mirror/verifier/js/json.js) and mirror/canonjson.py
agree on what they accept, what they refuse and why (hostile, malformed, limit), and
on the canonical bytes of what they accept: seeded mutations of signed-document-like
JSON, run through Node."""

from __future__ import annotations

import base64
import json
import random
import shutil
import subprocess
from pathlib import Path

import pytest

from mirror import canonjson
from mirror.errors import LimitExceeded, MalformedInput

ROOT = Path(__file__).resolve().parents[2]
NODE = shutil.which("node")

pytestmark = pytest.mark.skipif(NODE is None, reason="node is not installed")

SEEDS = [
    '{"a":1,"b":[true,false,null],"c":{"d":"e"}}',
    '{"payload":"eyJ4IjoxfQ==","payloadType":"t","signatures":[{"keyid":"ab","sig":"AA=="}]}',
    '{"t":"\\u00e9\\u2028\\ud83d\\ude00 \\"q\\" \\\\ \\/","n":-12,"z":0,"big":1234567890123456789}',
    '{"\\u0000":"nul","é":"é","😀":[[],{}],"":""}',
    '{ "spaced" : [ 1 , 2 ] ,\\n\\t"x" : { } }',
]
PIECES = ['"a"', ":", ",", "{", "}", "[", "]", "1.5", "1e3", "-0", "01", "NaN", "Infinity",
          '"\\ud800"', '"\\udc00x"', '"\\u00"', "\\", '"', " ", "\n", "\x00", "\ufeff", "é",
          '"a":2', "12345678901234567890", "true", "nul", "\x1f"]  # fmt: skip


def inputs() -> list[bytes]:
    rng = random.Random(7)
    out = [s.encode() for s in SEEDS]
    out += [b"[" * 33 + b"]" * 33, b'{"a":' + b"[" * 31 + b"]" * 31 + b"}", b"\xff{}", b"{}" * 3]
    out += [b'{"k":"' + b"x" * 5000 + b'"}']
    for _ in range(600):
        text = rng.choice(SEEDS)
        for _ in range(rng.randint(1, 3)):
            pos = rng.randrange(len(text) + 1)
            if rng.random() < 0.6:
                text = text[:pos] + rng.choice(PIECES) + text[pos:]
            else:
                text = text[:pos] + text[pos + rng.randint(1, 4) :]
        out.append(text.encode("utf-8", "surrogatepass"))
    return out


def python_side(data: bytes) -> tuple[str, str | None]:
    try:
        value = canonjson.loads(data, max_size=4096, what="doc")
    except canonjson.HostileJSON:
        return "hostile", None
    except MalformedInput:
        return "malformed", None
    except LimitExceeded:
        return "limit", None
    return "ok", base64.b64encode(canonjson.dumps(value)).decode()


def test_strict_json_agrees_with_canonjson(tmp_path: Path) -> None:
    cases = inputs()
    listing = tmp_path / "inputs.json"
    listing.write_text(json.dumps([base64.b64encode(d).decode() for d in cases]))
    run = subprocess.run(
        [str(NODE), str(ROOT / "tests/js/json-verdicts.mjs"), str(listing)],
        capture_output=True, text=True, timeout=300, check=True,
    )  # fmt: skip
    page = [json.loads(line) for line in run.stdout.splitlines()]
    assert len(page) == len(cases)
    differ = []
    for data, got in zip(cases, page, strict=True):
        want = python_side(data)
        if (got["class"], got["canonical"]) != want:
            differ.append(f"{data[:80]!r}: page {got['class']}, cli {want[0]}")
    assert not differ, "\n".join(differ[:20])
    classes = {p["class"] for p in page}
    assert {"ok", "hostile", "malformed", "limit"} <= classes  # every outcome exercised
