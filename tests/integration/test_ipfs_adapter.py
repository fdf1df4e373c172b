"""The IPFS adapter against real nodes: js-ipfs daemons on loopback, or the Kubo named
by MIRROR_TEST_IPFS_API (multi-node tests then skip)."""

from __future__ import annotations

import hashlib
import io
import os
import threading
import time
from pathlib import Path

import pytest

from mirror.errors import LimitExceeded, NetworkError, UsageError
from mirror.ipfs import IpfsNode, parse_api, resolve_api
from mirror.ipld.car import header_bytes, open_car, write_car
from mirror.ipld.cid import CID
from mirror.ipld.varint import encode as varint
from tests.ipfs_support import LocalNode, NodeFactory, skip_if_external, wait_for


def _unique(label: str) -> bytes:
    return f"{label} {time.time_ns()} {os.getpid()}".encode()


def _bundle_dir(root: Path) -> Path:
    """A small folder with two top-level entries and a file over one 1 MiB chunk."""
    d = root / "bundle"
    (d / "assets").mkdir(parents=True)
    (d / "index.html").write_bytes(b"<!doctype html><p>report</p>" + _unique("index"))
    (d / "assets" / "big.bin").write_bytes(hashlib.sha256(_unique("big")).digest() * 40000)
    return d


def _raw_block_car(path: Path, data: bytes) -> CID:
    """A hand-made CARv1 holding one raw block (header: dag-cbor {roots, version: 1})."""
    cid = CID.raw(data)
    section = cid.to_bytes() + data
    path.write_bytes(header_bytes([cid]) + varint(len(section)) + section)
    return cid


# -- addresses (no node needed) ------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("/ip4/127.0.0.1/tcp/5001", "/ip4/127.0.0.1/tcp/5001"),
        ("/ip4/127.0.0.1/tcp/5001/http", "/ip4/127.0.0.1/tcp/5001/http"),
        ("/dns4/node.example/tcp/443/https", "/dns4/node.example/tcp/443/https"),
        ("http://127.0.0.1:5001", "/ip4/127.0.0.1/tcp/5001/http"),
        ("http://127.0.0.1:5001/", "/ip4/127.0.0.1/tcp/5001/http"),
        ("https://node.example", "/dns/node.example/tcp/443/https"),
        ("http://[::1]:5001", "/ip6/::1/tcp/5001/http"),
    ],
)
def test_parse_api_accepts(given: str, expected: str) -> None:
    assert parse_api(given) == expected


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "localhost:5001",
        "/ip4/127.0.0.1/udp/5001",
        "/ip4/127.0.0.1",
        "/ip4/999.1.1.1/tcp/5001",
        "ftp://127.0.0.1:5001",
        "http://127.0.0.1:5001/api/v0",
        "http://user:pw@127.0.0.1:5001",
        "http://127.0.0.1:99999",
        "/ip4/127.0.0.1/tcp/5001/http/extra",
    ],
)
def test_parse_api_refuses(bad: str) -> None:
    with pytest.raises(UsageError):
        parse_api(bad)


def test_resolve_api_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MIRROR_IPFS_API", raising=False)
    assert resolve_api(None) == "/ip4/127.0.0.1/tcp/5001"
    monkeypatch.setenv("MIRROR_IPFS_API", "http://127.0.0.1:6001")
    assert resolve_api(None) == "/ip4/127.0.0.1/tcp/6001/http"
    assert resolve_api("/ip4/127.0.0.1/tcp/7001") == "/ip4/127.0.0.1/tcp/7001"


# -- one node ------------------------------------------------------------------


@pytest.mark.ipfs
def test_version_probe(ipfs_node: LocalNode) -> None:
    info = ipfs_node.client.info()
    assert info.implementation in {"js-ipfs", "kubo", "go-ipfs"}
    assert info.label == f"{info.implementation} {info.version}"
    assert info.version.split(".")[0].isdigit()
    assert info.peer_id == ipfs_node.client.peer_id() == ipfs_node.peer_id
    if not ipfs_node.external:
        assert info.label == "js-ipfs 0.18.1"
        assert info.supports_pubsub and info.supports_ipns


@pytest.mark.ipfs
def test_dag_import_returns_our_root_and_pins_it(ipfs_node: LocalNode, tmp_path: Path) -> None:
    result = write_car(_bundle_dir(tmp_path), tmp_path / "b.car")
    node = ipfs_node.client
    roots = node.dag_import(tmp_path / "b.car")
    assert roots == [result.root]  # decoded CIDs: js-ipfs answers base58, Kubo base32
    assert node.is_pinned(result.root)
    assert node.dag_import(tmp_path / "b.car") == [result.root]  # re-push is a no-op


@pytest.mark.ipfs
def test_hand_made_car_of_one_raw_block(ipfs_node: LocalNode, tmp_path: Path) -> None:
    data = _unique("raw block")
    cid = _raw_block_car(tmp_path / "raw.car", data)
    node = ipfs_node.client
    assert node.dag_import(tmp_path / "raw.car", pin=False) == []  # roots come with pins
    assert not node.is_pinned(cid)
    out = io.BytesIO()
    node.dag_export(cid, out, max_bytes=1000, timeout=5)  # the block is on the node
    assert out.getvalue().endswith(cid.to_bytes() + data)
    assert node.dag_import(tmp_path / "raw.car") == [cid]


@pytest.mark.ipfs
def test_pin_is_pinned_unpin(ipfs_node: LocalNode) -> None:
    node = ipfs_node.client
    cid = node.add_bytes(_unique("pin me"), pin=False)
    assert cid.version == 1 and cid.codec == 0x55  # one raw leaf, as the profile says
    assert not node.is_pinned(cid)
    node.pin_add(cid)
    assert node.is_pinned(cid)
    node.pin_add(cid)  # pinning twice is fine
    node.pin_rm(cid)
    assert not node.is_pinned(cid)
    node.pin_rm(cid)  # unpinning what is not pinned is not an error


@pytest.mark.ipfs
def test_dag_export_round_trip(ipfs_node: LocalNode, tmp_path: Path) -> None:
    result = write_car(_bundle_dir(tmp_path), tmp_path / "ours.car")
    node = ipfs_node.client
    assert node.dag_import(tmp_path / "ours.car") == [result.root]
    exported = tmp_path / "theirs.car"
    with exported.open("wb") as out:
        node.dag_export(result.root, out, max_bytes=10 * 1024 * 1024)
    with open_car(tmp_path / "ours.car") as ours, open_car(exported, root=result.root) as theirs:
        assert set(theirs.cids()) == set(ours.cids())
        for cid in ours.cids():
            assert theirs.get(cid) == ours.get(cid)


@pytest.mark.ipfs
def test_dag_export_cap_is_a_limit(ipfs_node: LocalNode, tmp_path: Path) -> None:
    result = write_car(_bundle_dir(tmp_path), tmp_path / "b.car")
    ipfs_node.client.dag_import(tmp_path / "b.car")
    with pytest.raises(LimitExceeded) as caught:
        ipfs_node.client.dag_export(result.root, io.BytesIO(), max_bytes=100_000)
    assert caught.value.exit_code == 5


@pytest.mark.ipfs
def test_key_gen_and_list_dedupes(ipfs_node: LocalNode) -> None:
    node = ipfs_node.client
    name = f"k{time.time_ns()}"
    ident = node.key_gen(name)
    keys = node.key_list()
    assert keys[name] == ident
    assert "self" in keys
    with pytest.raises(UsageError):
        node.key_gen(name)
    with pytest.raises(UsageError):
        node.key_gen("../escape")


@pytest.mark.ipfs
def test_pubsub_publish_without_subscriber_is_network_error(ipfs_node: LocalNode) -> None:
    if ipfs_node.external and not ipfs_node.client.info().supports_pubsub:
        pytest.skip("the external node runs without pubsub")
    with pytest.raises(NetworkError, match="no peer subscribes"):
        ipfs_node.client.pubsub_publish(f"nobody-{time.time_ns()}", b"hello")


# -- several nodes -------------------------------------------------------------


@pytest.mark.ipfs
def test_swarm_connect(ipfs_pair: tuple[LocalNode, LocalNode]) -> None:
    a, b = ipfs_pair
    assert a.swarm is not None
    b.client.swarm_connect(a.swarm)  # already connected: still fine
    assert a.peer_id in b.client.swarm_peers()
    with pytest.raises(UsageError):
        b.client.swarm_connect("not an address")
    nobody = a.client.key_gen(f"nobody{time.time_ns()}")  # a valid peer ID no node runs
    with pytest.raises(NetworkError, match="swarm/connect failed"):
        b.client.swarm_connect("/ip4/127.0.0.1/tcp/1/p2p/" + nobody)


@pytest.mark.ipfs
def test_ipns_publish_on_a_resolves_on_b(ipfs_pair: tuple[LocalNode, LocalNode]) -> None:
    a, b = ipfs_pair
    cid = a.client.add_bytes(_unique("feed v1"))
    key = f"feed{time.time_ns()}"
    ident = a.client.key_gen(key)
    name = a.client.name_publish(cid, key=key)
    assert name == ident
    assert a.client.name_resolve(name) == cid
    assert b.client.name_resolve(f"/ipns/{name}", timeout=20) == cid
    newer = a.client.add_bytes(_unique("feed v2"))
    a.client.name_publish(newer, key=key)

    def resolves_newer() -> bool:
        try:
            return b.client.name_resolve(name, nocache=True, timeout=10) == newer
        except NetworkError:
            return False

    wait_for(resolves_newer, timeout=20, what="node B to see the updated IPNS record")


@pytest.mark.ipfs
def test_pubsub_between_two_nodes(ipfs_pair: tuple[LocalNode, LocalNode]) -> None:
    a, b = ipfs_pair
    topic = f"mirror-feed-{time.time_ns()}"
    received: list[bytes] = []
    messages = b.client.pubsub_subscribe(topic, timeout=20)

    def listen() -> None:
        for data in messages:
            received.append(data)
            break

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    wait_for(
        lambda: b.peer_id in a.client.pubsub_peers(topic),
        timeout=15,
        what="node A to see B's subscription",
    )
    payload = b"\x00binary \xff feed update"
    a.client.pubsub_publish(topic, payload)
    listener.join(timeout=20)
    assert not listener.is_alive()
    assert received == [payload]


@pytest.mark.ipfs
def test_content_moves_between_nodes(ipfs_pair: tuple[LocalNode, LocalNode]) -> None:
    a, b = ipfs_pair
    cid = a.client.add_bytes(_unique("moves") * 1000)
    b.client.pin_add(cid, timeout=20)  # fetched from A over loopback
    assert b.client.is_pinned(cid)


@pytest.mark.ipfs
@pytest.mark.slow
def test_three_nodes_start_connect_and_stop(ipfs_factory: NodeFactory) -> None:
    skip_if_external()
    started = time.monotonic()
    nodes = ipfs_factory.start(3)
    ready = time.monotonic() - started
    print(
        f"3 js-ipfs nodes ready and connected in {ready:.1f} s "
        f"(each: {', '.join(f'{n.start_seconds:.1f} s' for n in nodes)})"
    )
    first, _, last = nodes
    cid = first.client.add_bytes(_unique("three"))
    last.client.pin_add(cid, timeout=20)
    assert last.client.is_pinned(cid)
    for node in nodes:
        node.stop()
        assert not node.running
    with pytest.raises(NetworkError, match="no IPFS node answers"):
        IpfsNode(first.api, timeout=2).info()
