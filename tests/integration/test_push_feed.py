"""`mirror push` and `mirror feed publish/show/announce` against a real IPFS node."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from mirror import envelope, feed
from mirror.ipld.cid import CID
from mirror.ipld.unixfs import file_cid
from mirror.keys import PublicKey, TrustedKey
from tests.conftest import PASSPHRASE, Mirror
from tests.ipfs_support import LocalNode

pytestmark = pytest.mark.ipfs


def _env(node: LocalNode) -> dict[str, str]:
    return {"MIRROR_IPFS_API": node.api}


def _page(root: Path, title: str) -> Path:
    page = root / title.replace(" ", "-")
    page.mkdir(parents=True)
    (page / "index.html").write_text(
        f"<!doctype html><html><head><title>{title}</title></head><body><article>"
        f"<h1>{title}</h1><p>{title} is reported here, in full.</p></article></body></html>",
        encoding="utf-8",
    )
    return page


def _bundle(mirror: Mirror, tmp_path: Path, title: str) -> Path:
    out = tmp_path / f"bundle-{title.replace(' ', '-')}"
    run = mirror(
        "bundle",
        _page(tmp_path / "pages", title),
        "-o",
        out,
        "--url",
        f"https://example.org/{title.replace(' ', '-')}",
    )
    assert run.exit_code == 0, run.stderr
    return out


def _published(mirror: Mirror) -> list[dict[str, object]]:
    path = mirror.home / "published.json"
    return json.loads(path.read_text())["bundles"] if path.exists() else []


def test_push_folder_pins_records_and_repush_is_noop(
    mirror: Mirror, ipfs_node: LocalNode, tmp_path: Path
) -> None:
    bundle = _bundle(mirror, tmp_path, "Push one")
    local_root = mirror("cid", bundle).stdout.strip()
    first = mirror("push", bundle, env=_env(ipfs_node))
    assert first.exit_code == 0, first.stderr
    assert first.stdout.strip() == local_root
    assert ipfs_node.client.is_pinned(CID.decode(local_root))
    [entry] = _published(mirror)
    manifest = (bundle / "manifest.json").read_bytes()
    assert entry["root_cid"] == local_root
    assert entry["manifest_sha256"] == "sha256:" + hashlib.sha256(manifest).hexdigest()
    assert entry["url"] == "https://example.org/Push-one"
    assert entry["title"] == "Push one"
    before = (mirror.home / "published.json").read_bytes()

    again = mirror("push", bundle, "--json", env=_env(ipfs_node))
    assert again.exit_code == 0, again.stderr
    result = json.loads(again.stdout)
    assert result["already_pinned"] is True and result["recorded"] is False
    assert (mirror.home / "published.json").read_bytes() == before


def test_push_car_file_gives_the_same_root(
    mirror: Mirror, ipfs_node: LocalNode, tmp_path: Path
) -> None:
    bundle = _bundle(mirror, tmp_path, "Push car")
    car = tmp_path / "b.car"
    root = mirror("car", bundle, "-o", car).stdout.strip()
    run = mirror("push", car, env=_env(ipfs_node))
    assert run.exit_code == 0, run.stderr
    assert run.stdout.strip() == root
    assert [e["root_cid"] for e in _published(mirror)] == [root]


def test_push_of_a_folder_not_signed_by_this_home_needs_no_record(
    mirror: Mirror, empty_mirror: Mirror, ipfs_node: LocalNode, tmp_path: Path
) -> None:
    bundle = _bundle(mirror, tmp_path, "Foreign")
    (empty_mirror.home).mkdir(parents=True, exist_ok=True)
    refused = empty_mirror("push", bundle, env=_env(ipfs_node))
    assert refused.exit_code == 2
    assert "--no-record" in refused.stderr
    ok = empty_mirror("push", bundle, "--no-record", env=_env(ipfs_node))
    assert ok.exit_code == 0, ok.stderr
    assert not (empty_mirror.home / "published.json").exists()


def test_push_tampered_bundle_is_refused(
    mirror: Mirror, ipfs_node: LocalNode, tmp_path: Path
) -> None:
    bundle = _bundle(mirror, tmp_path, "Tampered")
    (bundle / "index.html").write_text("<p>changed</p>", encoding="utf-8")
    run = mirror("push", bundle, env=_env(ipfs_node))
    assert run.exit_code == 3
    assert _published(mirror) == []


def test_feed_publish_versions_previous_and_head(
    mirror: Mirror, ipfs_node: LocalNode, tmp_path: Path
) -> None:
    roots = []
    for title in ("Feed first", "Feed second"):
        bundle = _bundle(mirror, tmp_path, title)
        roots.append(mirror("push", bundle, env=_env(ipfs_node)).stdout.strip())
        if title == "Feed first":
            v1 = mirror("feed", "publish", env=_env(ipfs_node))
            assert v1.exit_code == 0, v1.stderr
    v2 = mirror(
        "feed", "publish", "--ttl", "2d", "--gateway", "https://gw.example", env=_env(ipfs_node)
    )
    assert v2.exit_code == 0, v2.stderr
    v1_cid, v2_cid = v1.stdout.strip(), v2.stdout.strip()

    shown = json.loads(mirror("feed", "show", "--json").stdout)
    assert shown["feed_cid"] == v2_cid
    assert shown["version"] == 2
    assert shown["previous"] == v1_cid
    assert [e["root_cid"] for e in shown["entries"]] == list(reversed(roots))  # newest first
    assert shown["gateways"] == ["https://gw.example"]
    assert feed.parse_time(shown["expires"], "x") > feed.parse_time(shown["created_at"], "x")

    # the feed file is what the node holds, under the CID printed
    data = (mirror.home / "feed" / "feed.json").read_bytes()
    assert file_cid(data).encode() == v2_cid
    assert ipfs_node.client.is_pinned(CID.decode(v2_cid))
    pub = PublicKey.from_text(mirror("key", "show", "pub").stdout.strip())
    trusted = [TrustedKey("pub", pub, "")]
    assert feed.verify_feed(data, trusted).feed.version == 2

    # the signed head names the feed; a feed signature is not accepted as a head
    head = feed.verify_head((mirror.home / "feed" / "head.json").read_bytes(), trusted).head
    assert (head.feed_cid, head.version, head.key_id) == (v2_cid, 2, pub.key_id)
    with pytest.raises(Exception, match="payload type"):
        feed.verify_head(data, trusted)
    assert (mirror.home / "feed" / "history" / "1.head.json").exists()

    text = mirror("feed", "show")
    assert text.exit_code == 0 and "version 2" in text.stdout and "Feed second" in text.stdout


def test_feed_show_without_a_feed_is_a_usage_error(mirror: Mirror) -> None:
    run = mirror("feed", "show")
    assert run.exit_code == 2
    assert "feed publish" in run.stderr


def test_feed_publish_names_the_feed_by_ipns(
    mirror: Mirror, ipfs_node: LocalNode, tmp_path: Path
) -> None:
    mirror("push", _bundle(mirror, tmp_path, "Named"), env=_env(ipfs_node))
    run = mirror("feed", "publish", "--json", env=_env(ipfs_node))
    assert run.exit_code == 0, run.stderr
    result = json.loads(run.stdout)
    if not ipfs_node.client.info().supports_ipns:
        pytest.skip("node without an IPNS key store")
    assert result["ipns_name"]
    resolved = ipfs_node.client.name_resolve(result["ipns_name"])
    assert resolved == CID.decode(result["feed_cid"])


def test_feed_payload_types_are_separate(
    mirror: Mirror, ipfs_node: LocalNode, tmp_path: Path
) -> None:
    """A manifest envelope is not a feed, even though the same key signed it."""
    bundle = _bundle(mirror, tmp_path, "Types")
    pub = PublicKey.from_text(mirror("key", "show", "pub").stdout.strip())
    with pytest.raises(Exception, match="payload type"):
        feed.verify_feed((bundle / "manifest.json").read_bytes(), [TrustedKey("pub", pub, "")])
    assert envelope.FEED_TYPE != envelope.MANIFEST_TYPE != envelope.HEAD_TYPE


def test_publish_captures_pushes_and_publishes_the_feed(
    mirror: Mirror, ipfs_node: LocalNode, tmp_path: Path
) -> None:
    from tests.helpers.webserver import serve

    page = (
        "<!doctype html><html lang=en><head><meta charset=utf-8><title>Published report</title>"
        "</head><body><article><h1>Published report</h1>"
        + "".join(f"<p>Paragraph {i} of a report readers need to see.</p>" for i in range(20))
        + "</article></body></html>"
    )
    with serve({"/a": page}) as server:
        run = mirror(
            "publish",
            server.url("/a"),
            "--allow-private",
            "-o",
            tmp_path / "cap",
            # asked on the terminal: one answer must do for capture and feed signing
            env={**_env(ipfs_node), "MIRROR_PASSPHRASE": None},  # type: ignore[dict-item]
            input=PASSPHRASE + "\n",
        )
    assert run.exit_code == 0, run.stderr
    assert run.stderr.count("Passphrase") == 1
    root = run.stdout.strip()
    assert ipfs_node.client.is_pinned(CID.decode(root))
    shown = json.loads(mirror("feed", "show", "--json").stdout)
    assert [e["root_cid"] for e in shown["entries"]] == [root]
    assert shown["entries"][0]["title"] == "Published report"
