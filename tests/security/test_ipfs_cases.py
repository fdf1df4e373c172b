"""Hostile case 26: a node that is down, answers 500, or hangs -> NetworkError (exit 4)
with one line, within the timeout; pushing again afterwards is idempotent."""

from __future__ import annotations

import io
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from mirror.errors import NetworkError
from mirror.ipfs import IpfsNode
from mirror.ipld.car import write_car
from mirror.ipld.cid import CID
from tests.helpers.webserver import respond, serve
from tests.ipfs_support import LocalNode

SOME_CID = CID.decode("bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e")
TIMEOUT = 0.5
SLACK = 4.0  # generous bound on a loaded machine; a missing timeout would hang for ever


def _api(port: int) -> str:
    return f"/ip4/127.0.0.1/tcp/{port}"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def _silent_server() -> Iterator[int]:
    """Accepts connections and never answers (bounded: closes all at exit)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    listener.settimeout(0.1)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            held.append(conn)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield int(listener.getsockname()[1])
    finally:
        stop.set()
        thread.join(timeout=5)
        for conn in held:
            conn.close()
        listener.close()


def _calls(node: IpfsNode, tmp_path: Path) -> dict[str, Callable[[], object]]:
    car = tmp_path / "one.car"
    write_car(_small_dir(tmp_path), car)
    return {
        "info": node.info,
        "dag_import": lambda: node.dag_import(car),
        "dag_export": lambda: node.dag_export(SOME_CID, io.BytesIO(), max_bytes=1 << 20),
        "pin_add": lambda: node.pin_add(SOME_CID),
        "is_pinned": lambda: node.is_pinned(SOME_CID),
        "pin_rm": lambda: node.pin_rm(SOME_CID),
        "name_resolve": lambda: node.name_resolve(
            "12D3KooWJsD4iRjBcHYwWhcrStCRd3VjDWa5FrUThwiqTwfREv5t"
        ),
        "pubsub_publish": lambda: node.pubsub_publish("t", b"x"),
        "pubsub_subscribe": lambda: list(node.pubsub_subscribe("t", timeout=TIMEOUT)),
        "swarm_connect": lambda: node.swarm_connect("/ip4/127.0.0.1/tcp/1"),
        "key_list": node.key_list,
    }


def _small_dir(tmp_path: Path) -> Path:
    d = tmp_path / "small"
    d.mkdir(exist_ok=True)
    (d / "a.txt").write_bytes(b"a")
    (d / "b.txt").write_bytes(b"b")
    return d


def _assert_network_error(call: Callable[[], object], *, within: float) -> NetworkError:
    started = time.monotonic()
    with pytest.raises(NetworkError) as caught:
        call()
    assert time.monotonic() - started < within
    err = caught.value
    assert err.exit_code == 4
    assert "\n" not in str(err) and "Traceback" not in str(err)
    return err


def test_case_26_node_down_every_call_is_exit_4(tmp_path: Path) -> None:
    node = IpfsNode(_api(_closed_port()), timeout=TIMEOUT)
    for name, call in _calls(node, tmp_path).items():
        err = _assert_network_error(call, within=SLACK)
        assert "connection refused" in str(err), name
    assert "no IPFS node answers at /ip4/127.0.0.1/tcp/" in str(node_info_error(node))


def node_info_error(node: IpfsNode) -> NetworkError:
    return _assert_network_error(node.info, within=SLACK)


def test_case_26_rpc_500_carries_the_node_message(tmp_path: Path) -> None:
    message = {"Message": "block not found\nsecond line \x1b[31m", "Code": 0, "Type": "error"}
    routes = {
        "/api/v0/pin/add": respond(
            json.dumps(message), status=500, content_type="application/json"
        ),
        "/api/v0/dag/import": respond(
            json.dumps({"Message": "root bafy-not-ours is not the one in the CAR"}),
            status=500,
            content_type="application/json",
        ),
        "/api/v0/version": respond(b"oops", status=500, content_type="text/plain"),
    }
    with serve(routes) as server:
        node = IpfsNode(_api(server.port), timeout=TIMEOUT)
        err = _assert_network_error(lambda: node.pin_add(SOME_CID), within=SLACK)
        assert "pin/add failed: HTTP 500: block not found second line" in str(err)
        assert "\x1b" not in str(err)
        car = tmp_path / "one.car"
        write_car(_small_dir(tmp_path), car)
        err = _assert_network_error(lambda: node.dag_import(car), within=SLACK)
        assert "HTTP 500: root bafy-not-ours" in str(err)  # reported, not judged here
        err = _assert_network_error(node.info, within=SLACK)
        assert str(err) == f"no IPFS node answers at {node.api}: HTTP 500"


def test_case_26_not_an_ipfs_node(tmp_path: Path) -> None:
    with serve({"/api/v0/version": b"<html>a router login page</html>"}) as server:
        node = IpfsNode(_api(server.port), timeout=TIMEOUT)
        err = _assert_network_error(node.info, within=SLACK)
        assert "no IPFS node answers at" in str(err)
        assert "not IPFS RPC JSON" in str(err)


def test_case_26_a_call_that_hangs_times_out(tmp_path: Path) -> None:
    with _silent_server() as port:
        node = IpfsNode(_api(port), timeout=TIMEOUT)
        for name, call in _calls(node, tmp_path).items():
            err = _assert_network_error(call, within=TIMEOUT + SLACK)
            assert "no answer within 0.5 s" in str(err), name


def test_case_26_per_call_timeout_overrides_default() -> None:
    with _silent_server() as port:
        node = IpfsNode(_api(port), timeout=60)
        _assert_network_error(lambda: node.pin_add(SOME_CID, timeout=0.5), within=SLACK)
        _assert_network_error(
            lambda: node.dag_export(SOME_CID, io.BytesIO(), max_bytes=10, timeout=0.5),
            within=SLACK,
        )


def test_case_26_export_that_stalls_mid_stream() -> None:
    release = threading.Event()

    def stall(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "application/vnd.ipld.car")
        h.send_header("Transfer-Encoding", "chunked")  # as real nodes stream
        h.end_headers()
        h.wfile.write(b"64\r\n" + b"\x3a" * 100 + b"\r\n")
        h.wfile.flush()
        release.wait(30)  # bounded: the test releases it at the end

    with serve({"/api/v0/dag/export": stall}) as server:
        node = IpfsNode(_api(server.port), timeout=TIMEOUT)
        out = io.BytesIO()
        try:
            err = _assert_network_error(
                lambda: node.dag_export(SOME_CID, out, max_bytes=1 << 20), within=TIMEOUT + SLACK
            )
        finally:
            release.set()
        assert "dag/export failed" in str(err)
        assert out.getvalue() == b"\x3a" * 100  # partial: the caller discards it


@pytest.mark.ipfs
def test_case_26_push_again_after_a_failure_is_idempotent(
    ipfs_node: LocalNode, tmp_path: Path
) -> None:
    d = tmp_path / "bundle"
    d.mkdir()
    (d / "index.html").write_bytes(f"<p>{time.time_ns()}</p>".encode())
    (d / "article.md").write_bytes(b"# report\n")
    result = write_car(d, tmp_path / "b.car")
    down = IpfsNode(_api(_closed_port()), timeout=TIMEOUT)
    _assert_network_error(lambda: down.dag_import(tmp_path / "b.car"), within=SLACK)
    node = ipfs_node.client
    assert node.dag_import(tmp_path / "b.car") == [result.root]
    assert node.dag_import(tmp_path / "b.car") == [result.root]
    assert node.is_pinned(result.root)
