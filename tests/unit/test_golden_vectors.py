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
from tests.helpers.trust import trust_of

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
    assert verify.check_folder(VECTORS / "bundle", trust_of(trusted)).root_cid == facts["root_cid"]
    assert verify.check_car(VECTORS / "bundle.car", trust_of(trusted)).root_cid == facts["root_cid"]


def test_feed_vector_matches_its_schemas_and_verifies() -> None:
    from jsonschema import Draft202012Validator
    from referencing import Registry, Resource

    from mirror import feed
    from mirror.ipld.unixfs import file_cid

    feed_schema = json.loads((ROOT / "manifests" / "feed.schema.json").read_text())
    head_schema = json.loads((ROOT / "manifests" / "feed-head.schema.json").read_text())
    registry = Registry().with_resource(feed_schema["$id"], Resource.from_contents(feed_schema))
    facts = json.loads((VECTORS / "feed-vectors.json").read_text())
    bundle = json.loads((VECTORS / "vectors.json").read_text())
    data = (VECTORS / "feed.json").read_bytes()
    head_data = (VECTORS / "feed.head.json").read_bytes()
    payload = json.loads(base64.b64decode(json.loads(data)["payload"]))
    Draft202012Validator(feed_schema, registry=registry).validate(payload)
    head_payload = json.loads(base64.b64decode(json.loads(head_data)["payload"]))
    Draft202012Validator(head_schema, registry=registry).validate(head_payload)
    trusted = [TrustedKey("vectors", PublicKey.from_text(bundle["public_key"]), "")]
    verified = feed.verify_feed(data, trusted)
    assert verified.chain is not None and verified.feed.version == facts["version"]
    assert verified.feed.entries[0].root_cid == bundle["root_cid"]
    assert file_cid(data).encode() == facts["feed_cid"]
    head = feed.verify_head(head_data, trusted).head
    assert head.feed_cid == facts["feed_cid"] and head.identity == verified.feed.identity
