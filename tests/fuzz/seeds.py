"""Valid documents the fuzzers mutate: one signed bundle CAR, manifest, feed and head,
made from a fixed key so examples are reproducible."""

from __future__ import annotations

import hashlib
import io
import tempfile
from functools import cache
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from mirror import bundle, feed
from mirror.ipld import car
from mirror.keys import SigningKey, TrustedKey
from mirror.signer import Signer


@cache
def signing_key() -> SigningKey:
    seed = hashlib.sha256(b"mirror fuzz key").digest()
    return SigningKey("fuzz", Ed25519PrivateKey.from_private_bytes(seed))


def trusted() -> list[TrustedKey]:
    return [TrustedKey("fuzz", signing_key().public, "")]


@cache
def bundle_seed() -> tuple[bytes, bytes]:
    """(CAR bytes, manifest.json envelope bytes) of a small signed bundle."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "b"
        result = bundle.write_bundle(
            out,
            {"index.html": b"<p>hello</p>", "assets/a.txt": b"a" * 300, "article.md": b"# hi\n"},
            article={"title": "Fuzz", "language": "en"},
            capture={"final_url": "https://example.org/a"},
            signer=Signer.single(signing_key()),
            created_at="2025-01-01T00:00:00Z",
        )
        car.write_car(out, Path(tmp) / "b.car")
        return (Path(tmp) / "b.car").read_bytes(), result.manifest_bytes


@cache
def feed_seed() -> tuple[bytes, bytes]:
    """(signed feed bytes, signed head bytes)."""
    key = signing_key()
    entry = feed.FeedEntry(
        "bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e",
        "https://example.org/a",
        "Fuzz",
        None,
        "2025-01-01T00:00:00Z",
        "sha256:" + "ab" * 32,
        1234,
    )
    from datetime import UTC, datetime

    doc = feed.build_feed(
        key, [entry, entry], previous=None, previous_cid=None, now=datetime(2025, 1, 1, tzinfo=UTC)
    )
    data = feed.sign_feed(doc, key)
    head = feed.sign_head(feed.head_for(doc, entry.root_cid), key)
    return data, head


def car_stream(data: bytes) -> io.BytesIO:
    return io.BytesIO(data)
