"""Golden vectors: regenerated from a fixed seed and clock, compared byte for byte."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path

import jsonschema

from mirror import verify
from mirror.keys import PublicKey, TrustedKey

ROOT = Path(__file__).resolve().parents[2]
VECTORS = ROOT / "manifests" / "vectors"


def test_vectors_regenerate_byte_for_byte() -> None:
    run = subprocess.run(
        [sys.executable, str(ROOT / "manifests" / "make_vectors.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr


def test_vectors_match_the_schemas() -> None:
    envelope_schema = json.loads((ROOT / "manifests" / "envelope.schema.json").read_text())
    manifest_schema = json.loads((ROOT / "manifests" / "manifest.schema.json").read_text())
    env = json.loads((VECTORS / "bundle" / "manifest.json").read_text())
    jsonschema.validate(env, envelope_schema)
    jsonschema.validate(json.loads(base64.b64decode(env["payload"])), manifest_schema)


def test_vector_bundle_verifies_as_folder_and_car() -> None:
    facts = json.loads((VECTORS / "vectors.json").read_text())
    trusted = [TrustedKey("vectors", PublicKey.from_text(facts["public_key"]), "")]
    assert verify.verify_folder(VECTORS / "bundle", trusted).root_cid == facts["root_cid"]
    assert verify.verify_car(VECTORS / "bundle.car", trusted).root_cid == facts["root_cid"]
