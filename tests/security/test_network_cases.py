"""SECURITY-CASES 27-30: a lying node, feed rollback/freeze/mix-and-match, feed size
limits, and the follower's storage budget. Case 26 lives with the adapter's tests."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from mirror import feed, keys
from mirror.config import Home
from mirror.errors import LimitExceeded
from mirror.ipld import car
from mirror.ipld.cid import CID
from mirror.keys import TrustedKey
from tests.conftest import PASSPHRASE, Mirror, snapshot
from tests.ipfs_support import LocalNode


def _env(node: LocalNode) -> dict[str, str]:
    return {"MIRROR_IPFS_API": node.api}


def _bundle(mirror: Mirror, tmp_path: Path, name: str, extra: bytes = b"") -> Path:
    page = tmp_path / f"page-{name}"
    page.mkdir()
    (page / "index.html").write_text(
        f"<html><head><title>{name}</title></head><body><p>{name}</p></body></html>"
    )
    if extra:
        (page / "data.bin").write_bytes(extra)
    out = tmp_path / f"bundle-{name}"
    assert mirror("bundle", page, "-o", out).exit_code == 0
    return out


def _put_file(node: LocalNode, tmp_path: Path, data: bytes, name: str) -> str:
    """Store bytes as one UnixFS file on the node; return its CID."""
    path = tmp_path / name
    path.write_bytes(data)
    root = car.write_car(path, tmp_path / f"{name}.car").root
    assert node.client.dag_import(tmp_path / f"{name}.car") == [root]
    return root.encode()


def _signing_key(mirror: Mirror, name: str = "pub") -> keys.SigningKey:
    return keys.load_signing_key(Home(mirror.home), name, PASSPHRASE)


def _remembered(home: Path) -> dict[str, bytes]:
    return snapshot(home / "state")


# -- case 27 ------------------------------------------------------------------------


class _LyingNode(ThreadingHTTPServer):
    daemon_threads = True


@pytest.fixture
def lying_node() -> Iterator[str]:
    """A fake RPC API on 127.0.0.1: dag/import answers with another root."""
    other = CID.dag_pb(b"not the bundle").encode()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            elif self.headers.get("Transfer-Encoding") == "chunked":
                while (size := int(self.rfile.readline().strip() or b"0", 16)) > 0:
                    self.rfile.read(size + 2)
                self.rfile.readline()
            if self.path.startswith("/api/v0/pin/ls"):
                body, status = b'{"Message":"path is not pinned","Code":0,"Type":"error"}', 500
            elif self.path.startswith("/api/v0/dag/import"):
                body, status = json.dumps({"Root": {"Cid": {"/": other}}}).encode(), 200
            else:
                body, status = b"{}", 200
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = _LyingNode(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_case_27_node_reports_another_root_exit_3_nothing_recorded(
    mirror: Mirror, tmp_path: Path, lying_node: str
) -> None:
    bundle = _bundle(mirror, tmp_path, "lie")
    before = snapshot(mirror.home)
    run = mirror("push", bundle, "--api", lying_node)
    assert run.exit_code == 3, run.stderr
    assert "computed locally" in run.stderr and "nothing recorded" in run.stderr
    assert not (mirror.home / "published.json").exists()
    after = {k: v for k, v in snapshot(mirror.home).items() if not k.startswith("tmp/")}
    assert after == before


@pytest.mark.ipfs
def test_case_27_node_serves_other_bytes_bundle_unpinned_not_counted(
    mirror: Mirror, ipfs_node: LocalNode, tmp_path: Path
) -> None:
    """A feed entry whose root the node holds but which is not the publisher's bundle
    (signed by another key): re-verification fails, the root is unpinned, exit 3."""
    other = _bundle(mirror, tmp_path, "other-signed")
    # re-sign the same page with key 'other' and push it without recording
    page = tmp_path / "page-foreign"
    page.mkdir()
    (page / "index.html").write_text("<html><head><title>x</title></head><body>x</body></html>")
    foreign = tmp_path / "bundle-foreign"
    assert mirror("bundle", page, "-o", foreign, "--key-name", "other").exit_code == 0
    foreign_root = mirror("push", foreign, "--no-record", env=_env(ipfs_node)).stdout.strip()
    assert mirror("push", other, env=_env(ipfs_node)).exit_code == 0
    key = _signing_key(mirror)
    entry = feed.FeedEntry(
        foreign_root,
        "",
        "x",
        None,
        "2025-01-01T00:00:00Z",
        "sha256:" + hashlib.sha256((foreign / "manifest.json").read_bytes()).hexdigest(),
        2000,
    )
    doc = feed.build_feed(key, [entry], previous=None, previous_cid=None)
    cid = _put_file(ipfs_node, tmp_path, feed.sign_feed(doc, key), "feed-foreign")
    follower = Mirror(tmp_path / "follower")
    follower.home.mkdir()
    line = mirror("key", "show", "pub").stdout.strip()
    assert follower("trust", "add", "pub", line).exit_code == 0
    run = follower("follow", cid, "--trust", "pub", "--json", env=_env(ipfs_node))
    assert run.exit_code == 3, run.stderr
    report = json.loads(run.stdout)
    assert report["pinned"] == 0 and report["failed"][0]["root_cid"] == foreign_root
    assert not ipfs_node.client.is_pinned(CID.decode(foreign_root))
    assert not (follower.home / "state" / "feeds").exists()


# -- case 28 ------------------------------------------------------------------------


@pytest.fixture
def followed(mirror: Mirror, ipfs_node: LocalNode, tmp_path: Path) -> dict[str, object]:
    """Publisher home `mirror` with feeds v1 and v2 on the node; a follower at v2."""
    b1 = _bundle(mirror, tmp_path, "one")
    assert mirror("push", b1, env=_env(ipfs_node)).exit_code == 0
    v1 = mirror("feed", "publish", "--no-announce", env=_env(ipfs_node)).stdout.strip()
    b2 = _bundle(mirror, tmp_path, "two")
    assert mirror("push", b2, env=_env(ipfs_node)).exit_code == 0
    v2 = mirror("feed", "publish", "--no-announce", env=_env(ipfs_node)).stdout.strip()
    follower = Mirror(tmp_path / "follower")
    follower.home.mkdir()
    line = mirror("key", "show", "pub").stdout.strip()
    assert follower("trust", "add", "pub", line).exit_code == 0
    run = follower("follow", v2, "--trust", "pub", env=_env(ipfs_node))
    assert run.exit_code == 0, run.stderr
    return {"v1": v1, "v2": v2, "follower": follower, "b2": b2}


def _follow_refused(follower: Mirror, node: LocalNode, source: str | Path, word: str) -> None:
    before = _remembered(follower.home)
    run = follower("follow", str(source), "--trust", "pub", env=_env(node))
    assert run.exit_code == 3, run.stderr
    assert word in run.stderr or word in run.stdout
    assert _remembered(follower.home) == before


@pytest.mark.ipfs
def test_case_28_rollback_refused(
    mirror: Mirror, ipfs_node: LocalNode, followed: dict[str, object]
) -> None:
    follower = followed["follower"]
    assert isinstance(follower, Mirror)
    _follow_refused(follower, ipfs_node, str(followed["v1"]), "rollback")
    _follow_refused(
        follower, ipfs_node, mirror.home / "feed" / "history" / "1.head.json", "rollback"
    )


@pytest.mark.ipfs
def test_case_28_freeze_refused(
    mirror: Mirror, ipfs_node: LocalNode, followed: dict[str, object], tmp_path: Path
) -> None:
    follower = followed["follower"]
    assert isinstance(follower, Mirror)
    key = _signing_key(mirror)
    current = feed.load_own_feed(Home(mirror.home), [TrustedKey("pub", key.public, "")])
    assert current is not None
    past = datetime.now(UTC) - timedelta(days=30)
    stale = feed.build_feed(
        key,
        current[0].feed.entries,
        previous=current[0].feed,
        previous_cid=str(followed["v2"]),
        ttl=timedelta(days=7),
        now=past,
    )
    cid = _put_file(ipfs_node, tmp_path, feed.sign_feed(stale, key), "frozen")
    _follow_refused(follower, ipfs_node, cid, "expired")


@pytest.mark.ipfs
def test_case_28_same_version_other_content_refused(
    mirror: Mirror, ipfs_node: LocalNode, followed: dict[str, object], tmp_path: Path
) -> None:
    follower = followed["follower"]
    assert isinstance(follower, Mirror)
    key = _signing_key(mirror)
    current = feed.load_own_feed(Home(mirror.home), [TrustedKey("pub", key.public, "")])
    assert current is not None
    v2 = current[0].feed
    twin = feed.Feed(
        v2.key_id,
        v2.public_key,
        v2.version,
        v2.created_at,
        v2.expires,
        v2.previous,
        v2.entries[:1],
        v2.gateways,
    )
    cid = _put_file(ipfs_node, tmp_path, feed.sign_feed(twin, key), "twin")
    _follow_refused(follower, ipfs_node, cid, "differs from the document already seen")


@pytest.mark.ipfs
def test_case_28_mix_and_match_refused(
    mirror: Mirror, ipfs_node: LocalNode, followed: dict[str, object], tmp_path: Path
) -> None:
    """Entries whose manifest hash is not the bundle's: both for a bundle already
    verified and for a new one (which is then unpinned)."""
    follower = followed["follower"]
    assert isinstance(follower, Mirror)
    key = _signing_key(mirror)
    current = feed.load_own_feed(Home(mirror.home), [TrustedKey("pub", key.public, "")])
    assert current is not None
    v2 = current[0].feed
    b3 = _bundle(mirror, tmp_path, "three")
    root3 = mirror("push", b3, env=_env(ipfs_node)).stdout.strip()
    wrong = "sha256:" + "0" * 64
    entries = (
        feed.FeedEntry(root3, "", "three", None, "2025-01-01T00:00:00Z", wrong, 5000),
        *v2.entries,
    )
    for label, listed in (
        ("new", entries),
        (
            "known",
            (
                v2.entries[0].__class__(**{**v2.entries[0].to_dict(), "manifest_sha256": wrong}),
                *v2.entries[1:],
            ),
        ),
    ):
        doc = feed.build_feed(key, listed, previous=v2, previous_cid=str(followed["v2"]))
        cid = _put_file(ipfs_node, tmp_path, feed.sign_feed(doc, key), f"mix-{label}")
        _follow_refused(follower, ipfs_node, cid, "mix-and-match")
    state = json.loads((follower.home / "follow").glob("*.json").__next__().read_text())
    assert root3 in state["failed"] and root3 not in state["verified"]


# -- case 29 ------------------------------------------------------------------------


def _synthetic_payload(n: int, key: keys.SigningKey) -> bytes:
    """A feed document with n entries, built as bytes (no per-entry objects)."""
    head = feed.build_feed(key, [], previous=None, previous_cid=None).to_dict()
    head["entries"] = []
    text = json.dumps(head, sort_keys=True, separators=(",", ":"))
    entry = json.dumps(
        feed.FeedEntry(
            CID.dag_pb(b"x").encode(), "", "", None, "2025-01-01T00:00:00Z", "sha256:" + "0" * 64, 1
        ).to_dict(),
        sort_keys=True,
        separators=(",", ":"),
    )
    return text.replace('"entries":[]', '"entries":[' + ",".join([entry] * n) + "]").encode()


def test_case_29_feed_with_a_million_entries_is_refused(mirror: Mirror) -> None:
    key = _signing_key(mirror)
    payload = _synthetic_payload(1_000_000, key)
    with pytest.raises(LimitExceeded):
        feed.Feed.from_bytes(payload)
    small = b'{"entries":[' + b",".join([b"{}"] * 1_000_000) + b"]}"  # under the byte limit
    assert len(small) < feed.MAX_FEED_PAYLOAD
    with pytest.raises(LimitExceeded, match="entries"):
        feed.Feed.from_bytes(small)


def test_case_29_hundred_megabyte_feed_is_refused_before_parsing(mirror: Mirror) -> None:
    key = _signing_key(mirror)
    big = b" " * (100 << 20)
    with pytest.raises(LimitExceeded):
        feed.verify_feed(big, [TrustedKey("pub", key.public, "")])
    with pytest.raises(LimitExceeded):
        feed.Feed.from_bytes(big)


@pytest.mark.ipfs
def test_case_29_follow_of_oversized_feeds_exits_5(
    mirror: Mirror, ipfs_node: LocalNode, tmp_path: Path
) -> None:
    key = _signing_key(mirror)
    line = mirror("key", "show", "pub").stdout.strip()
    follower = Mirror(tmp_path / "follower")
    follower.home.mkdir()
    assert follower("trust", "add", "pub", line).exit_code == 0
    from mirror import envelope

    many = envelope.sign(
        envelope.FEED_TYPE, b'{"entries":[' + b",".join([b"{}"] * 1_000_000) + b"]}", [key]
    ).to_bytes()
    huge = b"x" * (feed.MAX_FEED_FILE + (4 << 20))
    for name, data in (("many", many), ("huge", huge)):
        cid = _put_file(ipfs_node, tmp_path, data, name)
        run = follower("follow", cid, "--trust", "pub", env=_env(ipfs_node))
        assert run.exit_code == 5, (name, run.stderr)
    assert not (follower.home / "state" / "feeds").exists()


# -- case 30 ------------------------------------------------------------------------


@pytest.mark.ipfs
def test_case_30_budget_reached_stops_pinning_and_exits_0(
    mirror: Mirror, ipfs_node: LocalNode, tmp_path: Path
) -> None:
    import os

    roots = []
    for name in ("old", "new"):
        bundle = _bundle(mirror, tmp_path, f"budget-{name}", os.urandom(3 << 20))
        roots.append(mirror("push", bundle, env=_env(ipfs_node)).stdout.strip())
    cid = mirror("feed", "publish", "--no-announce", env=_env(ipfs_node)).stdout.strip()
    follower = Mirror(tmp_path / "follower")
    follower.home.mkdir()
    assert (
        follower("trust", "add", "pub", mirror("key", "show", "pub").stdout.strip()).exit_code == 0
    )
    run = follower("follow", cid, "--trust", "pub", "--budget", "4MiB", env=_env(ipfs_node))
    assert run.exit_code == 0, run.stderr
    assert "budget reached" in run.stdout
    assert "1 pinned" in run.stdout and "1 over budget" in run.stdout
    state = json.loads((follower.home / "follow").glob("*.json").__next__().read_text())
    assert list(state["verified"]) == [roots[1]]  # newest first
    as_json = follower(
        "follow", cid, "--trust", "pub", "--budget", "4MiB", "--json", env=_env(ipfs_node)
    )
    report = json.loads(as_json.stdout)
    assert as_json.exit_code == 0 and report["budget_reached"] and report["skipped_budget"] == 1
