"""Real IPFS nodes for tests: js-ipfs daemons on loopback, or one external Kubo.

Fixtures (registered for the whole suite in tests/conftest.py):

- ``ipfs_factory`` (session): ``start(n)`` starts n js-ipfs nodes on free ports in
  temporary repositories and connects them pairwise; every node it started is stopped
  (SIGTERM, then SIGKILL after a deadline) at the end of the session.
- ``ipfs_node`` (session): one node. When MIRROR_TEST_IPFS_API names a node (e.g. a
  real Kubo), that node is used instead of starting one.
- ``ipfs_pair`` (session): two connected js-ipfs nodes (the first is also
  ``ipfs_node``); skipped when MIRROR_TEST_IPFS_API is set (an external node cannot
  be multiplied). Tests that stop or restart nodes start their own with
  ``ipfs_factory.start(n)``.

Tests skip with a reason when tests/ipfs_node/node_modules is missing.
"""

from __future__ import annotations

import itertools
import os
import random
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from mirror.ipfs import IpfsNode

NODE_DIR = Path(__file__).resolve().parent / "ipfs_node"
RUN_NODE = NODE_DIR / "run-node.sh"
EXTERNAL_ENV = "MIRROR_TEST_IPFS_API"
NOT_INSTALLED = "js-ipfs test node not installed: run npm install in tests/ipfs_node"
START_TIMEOUT = 150.0  # run-node.sh itself gives up after 120 s (loaded CI machines)
STOP_TIMEOUT = 10.0
MAX_NODES = 8


def pytest_configure(config: pytest.Config) -> None:
    # ipfshttpclient 0.7.0 hands urllib3 a parameter it no longer needs: noise only.
    config.addinivalue_line(
        "filterwarnings", "ignore:The 'strict' parameter is no longer needed:FutureWarning"
    )


def wait_for(check: Callable[[], bool], *, timeout: float, what: str, every: float = 0.05) -> None:
    """Poll `check` until it is true; fail the test with `what` at the deadline."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() >= deadline:
            pytest.fail(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(every)


def js_ipfs_installed() -> bool:
    return (NODE_DIR / "node_modules" / "ipfs" / "src" / "cli.js").is_file()


def require_js_ipfs() -> None:
    if not js_ipfs_installed():
        pytest.skip(NOT_INSTALLED)


def _ports_free(ports: range) -> bool:
    for port in ports:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                return False
    return True


def free_port_block() -> int:
    """A base port P with P..P+3 free: API P, swarm P+1, gateway P+2, gRPC P+3."""
    rng = random.Random()
    for _ in range(200):
        base = rng.randrange(20000, 60000, 4)
        if _ports_free(range(base, base + 4)):
            return base
    raise RuntimeError("no block of 4 free ports on 127.0.0.1")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie no one has reaped yet is already dead
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


@dataclass
class LocalNode:
    """A node the tests talk to; `pid` and `repo` are set only for nodes started here."""

    api: str
    client: IpfsNode
    peer_id: str
    swarm: str | None = None  # /ip4/127.0.0.1/tcp/P/p2p/ID, for swarm_connect
    pid: int | None = None
    repo: Path | None = None
    start_seconds: float = 0.0

    @property
    def external(self) -> bool:
        return self.pid is None

    @property
    def running(self) -> bool:
        return self.pid is not None and _alive(self.pid)

    def stop(self) -> None:
        """SIGTERM, wait (polling) for the daemon to exit, SIGKILL at the deadline."""
        if self.pid is None or not _alive(self.pid):
            return
        os.kill(self.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        while _alive(self.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if _alive(self.pid):
            os.kill(self.pid, signal.SIGKILL)
            kill_deadline = time.monotonic() + STOP_TIMEOUT
            while _alive(self.pid) and time.monotonic() < kill_deadline:
                time.sleep(0.05)

    def restart(self) -> None:
        """Start the same repository again on the same ports (after stop())."""
        assert self.repo is not None and self.swarm is not None
        api_port = int(self.api.rsplit("/", 1)[1])
        swarm_port = int(self.swarm.split("/")[4])
        fresh = _run_node(self.repo, api_port, swarm_port)
        self.pid = fresh.pid


def _run_node(repo: Path, api_port: int, swarm_port: int) -> LocalNode:
    started = time.monotonic()
    proc = subprocess.run(
        ["bash", str(RUN_NODE), str(repo), str(api_port), str(swarm_port)],
        capture_output=True,
        text=True,
        # if this test run dies before its teardown, the daemon follows it
        env={**os.environ, "RUN_NODE_OWNER_PID": str(os.getpid())},
        timeout=START_TIMEOUT,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"run-node.sh failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    fields = dict(line.split(" ", 1) for line in proc.stdout.splitlines() if " " in line)
    api = fields["api"]
    return LocalNode(
        api=api,
        client=IpfsNode(api, timeout=30.0),
        peer_id=fields["peer"],
        swarm=fields["swarm"],
        pid=int(fields["pid"]),
        repo=repo,
        start_seconds=time.monotonic() - started,
    )


@dataclass
class NodeFactory:
    """Starts js-ipfs nodes in temporary repositories; stops them all at the end."""

    root: Path
    nodes: list[LocalNode] = field(default_factory=list)
    _names: Iterator[int] = field(default_factory=itertools.count)
    _shared: list[LocalNode] = field(default_factory=list)

    def shared(self, n: int) -> list[LocalNode]:
        """The first n session-wide nodes, connected; started only as far as needed
        (a test that wants one node and a test that wants two share the first)."""
        if len(self._shared) < n:
            fresh = self.start(n - len(self._shared), connect=False)
            self._shared.extend(fresh)
            connect_all(self._shared)
        return self._shared[:n]

    def start(self, n: int = 1, *, connect: bool = True) -> list[LocalNode]:
        """Start n nodes in parallel (each retried once on a port race), connected."""
        require_js_ipfs()
        if not 1 <= n <= MAX_NODES:
            raise ValueError(f"between 1 and {MAX_NODES} nodes")
        with ThreadPoolExecutor(max_workers=n) as pool:
            started = list(pool.map(lambda _: self._start_one(), range(n)))
        if connect:
            connect_all(started)
        return started

    def _start_one(self) -> LocalNode:
        repo = self.root / f"node{next(self._names)}"
        error: Exception | None = None
        for _ in range(3):  # another process may take a port between check and bind
            base = free_port_block()
            try:
                node = _run_node(repo, base, base + 1)
            except RuntimeError as exc:
                error = exc
                if "port is not free" not in str(exc):
                    break
                continue
            self.nodes.append(node)
            return node
        raise RuntimeError(f"could not start a js-ipfs node: {error}")

    def stop_all(self) -> None:
        for node in self.nodes:
            node.stop()
        self.nodes.clear()
        self._shared.clear()


def connect_all(nodes: list[LocalNode]) -> None:
    """swarm/connect every pair and wait until each sees the other as a peer."""
    for a, b in itertools.combinations(nodes, 2):
        assert b.swarm is not None
        a.client.swarm_connect(b.swarm)
    for a, b in itertools.permutations(nodes, 2):
        wait_for(
            lambda a=a, b=b: b.peer_id in a.client.swarm_peers(),  # type: ignore[misc]
            timeout=30,
            what=f"{a.api} to see peer {b.peer_id}",
        )


def external_api() -> str | None:
    return os.environ.get(EXTERNAL_ENV) or None


def skip_if_external(reason: str = "needs several js-ipfs nodes started here") -> None:
    if external_api():
        pytest.skip(f"{reason}; {EXTERNAL_ENV} names one external node")


@pytest.fixture(scope="session")
def ipfs_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeFactory]:
    factory = NodeFactory(tmp_path_factory.mktemp("ipfs-nodes"))
    try:
        yield factory
    finally:
        factory.stop_all()


@pytest.fixture(scope="session")
def ipfs_node(ipfs_factory: NodeFactory) -> LocalNode:
    """One node: the external one named by MIRROR_TEST_IPFS_API, else a js-ipfs node."""
    api = external_api()
    if api:
        client = IpfsNode(api, timeout=60.0)
        info = client.info()  # a named node that does not answer is a failure, not a skip
        return LocalNode(api=client.api, client=client, peer_id=info.peer_id)
    return ipfs_factory.shared(1)[0]


@pytest.fixture(scope="session")
def ipfs_pair(ipfs_factory: NodeFactory) -> tuple[LocalNode, LocalNode]:
    """Two connected js-ipfs nodes (publisher-side A, reader-side B)."""
    skip_if_external()
    a, b = ipfs_factory.shared(2)
    return a, b
