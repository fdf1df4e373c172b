#!/usr/bin/env python3
"""Regenerate the golden vectors in manifests/vectors/ from a fixed seed and clock.

    python manifests/make_vectors.py            # rewrite the vectors
    python manifests/make_vectors.py --check    # exit 1 if they differ (the test does this)

The verdict corpus (manifests/vectors/verdicts/, one folder per case) is made here too,
by manifests/verdict_cases.py, so --check covers it byte for byte.

Ed25519 signatures are deterministic, so the same inputs give the same bytes on any
machine; an accidental change of the manifest or envelope format shows up as a diff.
The seed is public and for vectors only.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import verdict_cases
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from mirror import bundle, canonjson, envelope, feed, identity, verify
from mirror.clock import format_time
from mirror.ipld import car, unixfs
from mirror.ipld.cid import CID
from mirror.keys import SigningKey
from mirror.signer import Signer

HERE = Path(__file__).resolve().parent
SEED = bytes(range(32))  # fixed, public: vectors only
CLOCK = "2026-01-02T03:04:05Z"
CONTENT = {
    "index.html": (
        "<!doctype html><html lang=ru><meta charset=utf-8><title>Тест</title>"
        "<p>Проверка подписи.</p></html>\n"
    ).encode(),
    "article.md": "# Тест\n\nПроверка подписи.\n".encode(),
    "assets/1x1.gif": bytes.fromhex(
        "47494638396101000100800000000000ffffff2c00000000010001000002024401003b"
    ),
}


def build(out: Path) -> dict[str, str]:
    key = SigningKey("vectors", Ed25519PrivateKey.from_private_bytes(SEED))
    result = bundle.write_bundle(
        out / "bundle",
        CONTENT,
        article={
            "title": "Тест",
            "byline": "Редакция",
            "authors": ["Редакция"],
            "language": "ru",
            "canonical_url": "https://example.org/test",
        },
        capture={
            "requested_url": "https://example.org/test",
            "final_url": "https://example.org/test",
            "fetched_at": CLOCK,
            "tool": "mirror vectors",
        },
        signer=Signer.single(key),
        created_at=CLOCK,
    )
    car_root = car.write_car(out / "bundle", out / "bundle.car").root
    assert car_root == result.root
    feed_payload = json.dumps({"format": "not-a-manifest"}).encode()
    (out / "feed-as-manifest.envelope.json").write_bytes(
        envelope.sign(envelope.FEED_TYPE, feed_payload, [key]).to_bytes()
    )
    facts = {
        "root_cid": result.root.encode(),
        "public_key": key.public.to_text(),
        "key_id": key.public.key_id,
        "seed_hex": SEED.hex(),
        "clock": CLOCK,
    }
    (out / "vectors.json").write_text(json.dumps(facts, indent=2, ensure_ascii=False) + "\n")
    build_feed(out, key, result.root)
    verdict_cases.build(out / "verdicts")
    return facts


def build_feed(out: Path, key: SigningKey, root: CID) -> None:
    """Feed version 1 listing the vector bundle, carrying identity version 1, and its head."""
    now = datetime.strptime(CLOCK, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    link = identity.Identity("vectors", 1, format_time(now + timedelta(days=365)), 1, (key.public,))
    chain = identity.verify_chain(
        [envelope.sign(envelope.IDENTITY_TYPE, link.to_bytes(), [key])], [key.public]
    )
    manifest = (out / "bundle" / "manifest.json").read_bytes()
    entry = feed.FeedEntry(
        root.encode(),
        "https://example.org/test",
        "Тест",
        None,
        CLOCK,
        feed.sha256_tag(manifest),
        verify.dag_size(out / "bundle.car", root),
    )
    doc = feed.build_feed(
        key,
        [entry],
        previous=None,
        previous_cid=None,
        gateways=["https://gateway.example"],
        now=now,
        chain=canonjson.loads(chain.to_bytes().rstrip(b"\n"), max_size=identity.MAX_CHAIN),
    )
    data = feed.sign_feed(doc, key)
    (out / "feed.json").write_bytes(data)
    feed_cid = unixfs.file_cid(data).encode()
    (out / "feed.head.json").write_bytes(feed.sign_head(feed.head_for(doc, feed_cid), key))
    facts = {"feed_cid": feed_cid, "version": 1, "expires": doc.expires, "key_id": doc.key_id}
    (out / "feed-vectors.json").write_text(json.dumps(facts, indent=2) + "\n")


def tree(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    target = HERE / "vectors"
    with tempfile.TemporaryDirectory() as tmp:
        fresh = Path(tmp) / "vectors"
        build(fresh)
        if args.check:
            same = tree(fresh) == tree(target)
            print("golden vectors match" if same else "golden vectors DIFFER", file=sys.stderr)
            return 0 if same else 1
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(fresh, target)
    print(f"wrote {target}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
