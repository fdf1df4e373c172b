"""The gateways a publisher's verified feed recommends reach `mirror get` (public https only)."""

from __future__ import annotations

import json

from mirror import feed, keys
from mirror.config import Home
from tests.conftest import Mirror

CID_TEXT = "bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e"


def remember_gateways(mirror: Mirror, gateways: list[str]) -> None:
    key_id = keys.load_trust(Home(mirror.home))["pub"].key.key_id
    state = mirror.home / "state" / "feeds" / f"{key_id}.json"
    state.parent.mkdir(parents=True, exist_ok=True)
    doc = {
        "format": feed.STATE_FORMAT,
        "key_id": key_id,
        "version": 3,
        "payload_sha256": "sha256:" + "0" * 64,
        "feed_cid": None,
        "gateways": gateways,
    }
    state.write_text(json.dumps(doc))


def test_only_public_https_gateways_are_taken_from_a_feed(mirror: Mirror) -> None:
    remember_gateways(
        mirror,
        [
            "https://gw.example",
            "http://gw2.example",
            "https://127.0.0.1",
            "https://0x7f000001",
            "https://localhost:8080",
            "https://10.1.2.3",
            "https://printer.local",
        ],
    )
    trusted = list(keys.load_trust(Home(mirror.home)).values())
    assert feed.remembered_gateways(Home(mirror.home), trusted) == ("https://gw.example",)


def test_get_tries_the_feed_gateways(mirror: Mirror) -> None:
    remember_gateways(mirror, ["https://gateway.invalid"])
    run = mirror("get", CID_TEXT, "--trust", "pub", "--no-node", "--timeout", "5")
    assert run.exit_code == 4, run.stderr
    assert "gateway.invalid" in run.stderr
