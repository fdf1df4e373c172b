"""The feed's optional `verifier` field (decision 0004): round trip, strict parsing,
and feeds without it unchanged byte for byte."""

from __future__ import annotations

import pytest

from mirror import feed
from mirror.errors import UsageError
from tests.verifier_cases import key

CID = "bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e"
REF = feed.VerifierRef(CID, "sha256:" + "ab" * 32, 123_456)


def _feed(verifier: feed.VerifierRef | None) -> feed.Feed:
    return feed.build_feed(key(1), [], previous=None, previous_cid=None, verifier=verifier)


def test_round_trip() -> None:
    f = _feed(REF)
    again = feed.Feed.from_bytes(f.to_bytes())
    assert again.verifier == REF
    assert f.to_dict()["verifier"] == {"cid": CID, "sha256": REF.sha256, "size": 123_456}


def test_absent_means_the_bytes_of_before() -> None:
    f = _feed(None)
    assert "verifier" not in f.to_dict()
    assert feed.Feed.from_bytes(f.to_bytes()).verifier is None


@pytest.mark.parametrize(
    "bad",
    [
        {"cid": CID, "sha256": REF.sha256},
        {"cid": CID, "sha256": REF.sha256, "size": 0},
        {"cid": CID, "sha256": REF.sha256, "size": feed.MAX_VERIFIER + 1},
        {"cid": CID, "sha256": "sha256:xyz", "size": 5},
        {"cid": "not-a-cid", "sha256": REF.sha256, "size": 5},
        {"cid": CID, "sha256": REF.sha256, "size": True},
        {"cid": CID, "sha256": REF.sha256, "size": 5, "url": "https://x"},
        "bafy...",
    ],
)
def test_bad_references_are_refused(bad: object) -> None:
    doc = _feed(None).to_dict()
    doc["verifier"] = bad
    with pytest.raises(UsageError):
        feed.Feed.from_doc(doc)
