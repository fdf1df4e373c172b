"""Fuzz the signed-document parsers: envelope, manifest, feed and feed head, and the
verifier that ties them together (signature first, then the exact payload)."""

from __future__ import annotations

import base64
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mirror import canonjson, envelope, verify
from mirror.errors import VerificationError
from mirror.manifest import Manifest
from tests.fuzz.harness import FUZZ, hostile, mutations, survive
from tests.fuzz.seeds import bundle_seed, feed_seed, signing_key, trusted
from tests.helpers.trust import trust_of

ENVELOPE_SEED = bundle_seed()[1]


def _judge(data: bytes) -> verify.Judged:
    return verify.judge_manifest(data, None, trust_of(trusted()))


MANIFEST_SEED = envelope.Envelope.from_bytes(ENVELOPE_SEED).payload

# JSON values of every shape, to reach the schema checks behind the parser.
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


def _manifest_like() -> st.SearchStrategy[bytes]:
    """The seed manifest with one field replaced by an arbitrary JSON value."""
    doc = json.loads(MANIFEST_SEED)
    fields = [*sorted(doc), "files.0", "article.title", "article.authors", "publisher.key_id"]

    def build(field_value: tuple[str, object]) -> bytes:
        field, value = field_value
        copy = json.loads(MANIFEST_SEED)
        target, _, leaf = field.rpartition(".")
        holder = copy
        for part in target.split(".") if target else []:
            holder = holder[int(part)] if isinstance(holder, list) else holder[part]
        if isinstance(holder, list):
            holder[int(leaf)] = value
        else:
            holder[leaf] = value
        return canonjson.dumps(copy)

    return st.tuples(st.sampled_from(fields), JSON).map(build)


@FUZZ
@given(hostile(ENVELOPE_SEED))
def test_fuzz_envelope_parser(data: bytes) -> None:
    survive(envelope.Envelope.from_bytes, data)


@FUZZ
@given(st.one_of(hostile(MANIFEST_SEED), _manifest_like()))
def test_fuzz_manifest_parser(data: bytes) -> None:
    survive(Manifest.from_bytes, data)


@FUZZ
@given(st.one_of(hostile(MANIFEST_SEED), _manifest_like()))
def test_fuzz_manifest_validly_signed(payload: bytes) -> None:
    """Hostile manifests that carry a valid signature still only fail cleanly."""
    data = envelope.sign(envelope.MANIFEST_TYPE, payload, [signing_key()]).to_bytes()
    survive(_judge, data)


@FUZZ
@given(mutations(ENVELOPE_SEED))
def test_fuzz_signed_manifest_never_verifies_when_changed(data: bytes) -> None:
    """Any change to the signed bytes must fail verification: even a re-encoding of the
    same envelope (JSON whitespace, key order) is refused as non-canonical."""
    result = survive(_judge, data)
    if data != ENVELOPE_SEED:
        assert isinstance(result, Exception)


feed = pytest.importorskip("mirror.feed")
FEED_SEED, HEAD_SEED = feed_seed()
FEED_PAYLOAD = envelope.Envelope.from_bytes(FEED_SEED).payload


@FUZZ
@given(hostile(FEED_PAYLOAD))
def test_fuzz_feed_parser(data: bytes) -> None:
    survive(feed.Feed.from_bytes, data)


@FUZZ
@given(hostile(FEED_SEED))
def test_fuzz_feed_verify(data: bytes) -> None:
    survive(feed.verify_feed, data, trusted())


@FUZZ
@given(hostile(FEED_PAYLOAD))
def test_fuzz_feed_validly_signed(payload: bytes) -> None:
    data = envelope.sign(envelope.FEED_TYPE, payload, [signing_key()]).to_bytes()
    survive(feed.verify_feed, data, trusted())


@FUZZ
@given(hostile(HEAD_SEED))
def test_fuzz_feed_head(data: bytes) -> None:
    survive(feed.verify_head, data, trusted())


def test_seeds_verify() -> None:
    assert _judge(ENVELOPE_SEED).manifest.title == "Fuzz"
    assert feed.verify_feed(FEED_SEED, trusted()).feed.version == 1
    assert feed.verify_head(HEAD_SEED, trusted()).head.version == 1
    with pytest.raises(VerificationError):
        bad = json.loads(ENVELOPE_SEED)
        bad["payload"] = base64.b64encode(MANIFEST_SEED + b" ").decode()
        _judge(json.dumps(bad).encode())
