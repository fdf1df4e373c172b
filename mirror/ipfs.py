"""Adapter for a Kubo-compatible IPFS RPC API (`/api/v0`), over ipfshttpclient.

The client is built with `ipfshttpclient.Client(addr)`: its `connect()` refuses every
daemon newer than 0.7 by version string, so the node is probed here with `/version`
and `/id` instead. Every call goes through the client's low-level `request` so that
arguments are sent exactly as current daemons expect, and every call has a timeout
(a node asked for a block it cannot find may never answer).

Any failure of the node or the transport becomes a NetworkError (exit 4) with one
line naming the node, the call, the HTTP status and the node's own message. A node
answer that looks wrong (a different root, a bad CID) is reported, never judged
here: verification is the caller's job.

Differences between nodes handled here (js-ipfs 0.18.1 is the test node, Kubo the
production target):
- CIDs come back in base58btc (js-ipfs) or base32 (Kubo): they are decoded and
  compared as CIDs, never as strings.
- `key/list` on js-ipfs lists every key twice: deduplicated.
- pubsub topics are multibase (`u` + base64url, no padding) and `pubsub/pub` takes
  the data as a multipart body; message data comes back multibase too. Publishing
  with no subscribed peer fails with `InsufficientPeers`.
- `swarm/connect` is sent with the address as one argument (ipfshttpclient 0.7.0's
  `swarm.connect` splits a string into one argument per character).
- `block/stat` of a missing block hangs on js-ipfs and `dag/get` on dag-pb answers
  500: neither is used; pins are checked with `pin/ls` and data read with
  `dag/export` (streamed, capped).
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import time
import urllib.parse
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import ipfshttpclient
import ipfshttpclient.exceptions as ipfs_exc
import requests
import urllib3.exceptions
from ipfshttpclient import multipart
from ipfshttpclient.http_common import multiaddr_to_url_data

from mirror.errors import LimitExceeded, NetworkError, StorageError, UsageError
from mirror.ipld.cid import CID

DEFAULT_API = "/ip4/127.0.0.1/tcp/5001"
API_ENV = "MIRROR_IPFS_API"
DEFAULT_TIMEOUT = 30.0
MAX_PUBSUB_MESSAGE = 1 << 20  # gossipsub's default maximum message size
MAX_API_TEXT = 300
_UPLOAD_CHUNK = 1 << 16
_MAX_DETAIL = 300
# ipfshttpclient 0.7.0 passes urllib3 a parameter it no longer needs; harmless.
warnings.filterwarnings(
    "ignore", message="The 'strict' parameter is no longer needed", category=FutureWarning
)
_HOSTNAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$")


def resolve_api(flag: str | None) -> str:
    """The node address from `--api`, else MIRROR_IPFS_API, else the local default."""
    value = flag or os.environ.get(API_ENV) or DEFAULT_API
    return parse_api(value)


def parse_api(addr: str) -> str:
    """Check a node address and return the multiaddr ipfshttpclient.Client accepts.

    Accepts `/ip4|ip6|dns|dns4|dns6/HOST/tcp/PORT[/http|/https]` and
    `http(s)://HOST:PORT` (no path other than `/`).
    """
    text = addr.strip()
    if not text or len(text) > MAX_API_TEXT or any(c.isspace() for c in text):
        raise UsageError(f"bad IPFS API address {_one_line(addr)!r}")
    if text.startswith("/"):
        try:
            multiaddr_to_url_data(text, "api/v0")
        except ipfs_exc.Error as exc:
            raise UsageError(
                f"bad IPFS API address {text!r}: want /ip4/HOST/tcp/PORT or http://HOST:PORT"
            ) from exc
        return text
    parts = urllib.parse.urlsplit(text)
    try:
        port = parts.port
    except ValueError as exc:
        raise UsageError(f"bad port in IPFS API address {text!r}") from exc
    host = parts.hostname
    if (
        parts.scheme not in ("http", "https")
        or not host
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
        or parts.username
        or parts.password
    ):
        raise UsageError(
            f"bad IPFS API address {text!r}: want /ip4/HOST/tcp/PORT or http://HOST:PORT"
        )
    if port is None:
        port = 443 if parts.scheme == "https" else 80
    if re.fullmatch(r"[0-9.]+", host):
        proto = "ip4"
    elif ":" in host:
        proto = "ip6"
    elif _HOSTNAME.match(host):
        proto = "dns"
    else:
        raise UsageError(f"bad host in IPFS API address {text!r}")
    result = f"/{proto}/{host}/tcp/{port}/{parts.scheme}"
    return parse_api(result)


# What a failing node or transport raises through ipfshttpclient and requests;
# anything else is a bug and surfaces as such.
_TRANSPORT = (
    ipfs_exc.Error,
    requests.RequestException,
    urllib3.exceptions.HTTPError,
    OSError,
    json.JSONDecodeError,
)


class NodeError(NetworkError):
    """A NetworkError from the node; `detail` is the status and the node's own words."""

    def __init__(self, message: str, detail: str) -> None:
        super().__init__(message)
        self.detail = detail


@dataclass(frozen=True, slots=True)
class NodeInfo:
    """What the node said about itself."""

    version: str  # e.g. "0.18.1" (js-ipfs) or "0.29.0" (Kubo)
    implementation: str  # "kubo", "go-ipfs", "js-ipfs" or the agent's own name
    agent: str  # the full AgentVersion, e.g. "js-ipfs/0.18.1"
    peer_id: str
    supports_pubsub: bool  # Kubo needs --enable-pubsub-experiment
    supports_ipns: bool  # the key store answers (needed to publish)

    @property
    def label(self) -> str:
        """`js-ipfs 0.18.1`, `kubo 0.29.0`: how the node is named to users."""
        return f"{self.implementation} {self.version}"


class IpfsNode:
    """One IPFS node reached over its RPC API. Methods raise MirrorError subclasses."""

    def __init__(self, api: str, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        if not timeout > 0:
            raise UsageError("IPFS timeout must be positive")
        self.api = parse_api(api)
        self.timeout = float(timeout)
        # Never ipfshttpclient.connect(): it refuses current daemons by version string.
        self._client = ipfshttpclient.Client(self.api, timeout=self.timeout)
        self._http = self._client._client

    # -- probing --------------------------------------------------------------

    def info(self) -> NodeInfo:
        """Probe `/version` and `/id`; say clearly when nothing answers like a node."""
        try:
            version = self._one_json("version", "/version")
            ident = self._one_json("id", "/id")
        except NodeError as exc:
            raise NetworkError(f"no IPFS node answers at {self.api}: {exc.detail}") from exc
        number = version.get("Version")
        peer = ident.get("ID")
        if not isinstance(number, str) or not isinstance(peer, str):
            raise NetworkError(
                f"no IPFS node answers at {self.api}: the answer to /version is not an IPFS one"
            )
        agent = ident.get("AgentVersion")
        agent = agent if isinstance(agent, str) else ""
        name = agent.split("/", 1)[0] if agent else ""
        if not name:
            name = "js-ipfs" if "ipfs-core" in version else "kubo"
        return NodeInfo(
            version=_one_line(number),
            implementation=_one_line(name),
            agent=_one_line(agent),
            peer_id=_one_line(peer),
            supports_pubsub=self._answers("/pubsub/ls"),
            supports_ipns=self._answers("/key/list"),
        )

    def peer_id(self) -> str:
        peer = self._one_json("id", "/id").get("ID")
        if not isinstance(peer, str) or not peer:
            raise NetworkError(f"IPFS node at {self.api}: /id has no peer ID")
        return peer

    # -- content --------------------------------------------------------------

    def dag_import(
        self, car_path: Path, *, pin: bool = True, timeout: float | None = None
    ) -> list[CID]:
        """Import a CAR file; return the roots the node reports (decoded).

        With pin=True the node pins the roots; a root it could not pin (blocks
        missing) is a NetworkError. With pin=False nodes report no roots (Kubo and
        js-ipfs alike): the list is empty. Importing the same CAR again is a no-op.
        """
        try:
            handle = open(car_path, "rb")  # noqa: SIM115 (closed below, streamed)
        except OSError as exc:
            raise StorageError(f"cannot read CAR file {car_path}: {exc.strerror}") from exc
        with handle:
            body, headers = multipart.stream_files(handle, chunk_size=_UPLOAD_CHUNK)
            answers = self._json(
                "dag/import",
                "/dag/import",
                opts={"pin-roots": "true" if pin else "false"},
                data=body,
                headers=headers,
                timeout=timeout,
            )
        roots: list[CID] = []
        for item in answers:
            root = item.get("Root")
            if not isinstance(root, dict):
                continue  # Kubo may add a Stats object
            cid = self._cid("dag/import", _cid_field(root.get("Cid")))
            err = root.get("PinErrorMsg")
            if isinstance(err, str) and err:
                raise NetworkError(
                    f"IPFS node at {self.api} could not pin root {cid}: {_one_line(err)}"
                )
            roots.append(cid)
        return roots

    def dag_export(
        self, cid: CID, out: BinaryIO, *, max_bytes: int, timeout: float | None = None
    ) -> None:
        """Stream the CAR of `cid` into `out`, refusing more than max_bytes.

        `timeout` bounds each wait for the next bytes, not the whole transfer. The
        bytes are untrusted: the caller verifies them. Pin first: js-ipfs fetches
        missing blocks one at a time.
        """
        written = 0
        stream = self._stream("dag/export", "/dag/export", [cid.encode()], timeout=timeout)
        try:
            for chunk in self._guard_iter("dag/export", stream, timeout):
                written += len(chunk)
                if written > max_bytes:
                    raise LimitExceeded(
                        f"CAR of {cid} from {self.api} is larger than {max_bytes} bytes"
                    )
                try:
                    out.write(chunk)
                except OSError as exc:
                    raise StorageError(f"cannot write CAR of {cid}: {exc.strerror}") from exc
        finally:
            stream.close()

    def add_bytes(self, data: bytes, *, pin: bool = True) -> CID:
        """Add bytes as one UnixFS file (CIDv1, raw leaves, 1 MiB chunks)."""
        body, headers = multipart.stream_bytes(data, chunk_size=_UPLOAD_CHUNK)
        opts = {
            "cid-version": "1",
            "raw-leaves": "true",
            "chunker": "size-1048576",
            "pin": "true" if pin else "false",
        }
        answers = self._json("add", "/add", opts=opts, data=body, headers=headers)
        if not answers:
            raise NetworkError(f"IPFS node at {self.api}: add returned nothing")
        return self._cid("add", answers[-1].get("Hash"))

    # -- pins -----------------------------------------------------------------

    def pin_add(self, cid: CID, *, timeout: float | None = None) -> None:
        """Pin recursively (fetching what is missing); `timeout` bounds the whole wait."""
        self._json("pin/add", "/pin/add", [cid.encode()], {"recursive": "true"}, timeout=timeout)

    def is_pinned(self, cid: CID) -> bool:
        """Whether `cid` is pinned recursively (an indirect pin does not count)."""
        try:
            answers = self._json("pin/ls", "/pin/ls", [cid.encode()], {"type": "recursive"})
        except NodeError as exc:
            if "not pinned" in exc.detail:
                return False
            raise
        for item in answers:
            keys = item.get("Keys")
            if isinstance(keys, dict):
                for text in keys:
                    if _same_block(self._cid("pin/ls", text), cid):
                        return True
        return False

    def pin_rm(self, cid: CID) -> None:
        """Remove a recursive pin; removing a pin that is not there is not an error."""
        try:
            self._json("pin/rm", "/pin/rm", [cid.encode()], {"recursive": "true"})
        except NodeError as exc:
            if "not pinned" not in exc.detail:
                raise

    # -- IPNS -----------------------------------------------------------------

    def key_gen(self, name: str) -> str:
        """Create an Ed25519 key on the node; return its IPNS name (peer ID form)."""
        _check_key_name(name)
        try:
            answers = self._json("key/gen", "/key/gen", [name], {"type": "ed25519"})
        except NodeError as exc:
            if "already exists" in exc.detail:
                raise UsageError(f"key {name!r} already exists on the IPFS node") from exc
            raise
        ident = answers[0].get("Id") if answers else None
        if not isinstance(ident, str) or not ident:
            raise NetworkError(f"IPFS node at {self.api}: key/gen returned no key ID")
        return ident

    def key_list(self) -> dict[str, str]:
        """Key name -> IPNS name. js-ipfs lists each key twice: deduplicated."""
        keys: dict[str, str] = {}
        for item in self._json("key/list", "/key/list"):
            for entry in item.get("Keys") or []:
                if isinstance(entry, dict):
                    name, ident = entry.get("Name"), entry.get("Id")
                    if isinstance(name, str) and isinstance(ident, str):
                        keys.setdefault(name, ident)
        return keys

    def name_publish(
        self, cid: CID, *, key: str, lifetime: str = "168h", timeout: float | None = None
    ) -> str:
        """Point the IPNS name of `key` at /ipfs/CID; return the IPNS name."""
        _check_key_name(key)
        if not re.fullmatch(r"[0-9]+(ns|us|ms|s|m|h)", lifetime):
            raise UsageError(f"bad IPNS lifetime {lifetime!r} (want e.g. 168h)")
        opts = {"key": key, "lifetime": lifetime, "allow-offline": "true", "resolve": "false"}
        answers = self._json(
            "name/publish", "/name/publish", [f"/ipfs/{cid.encode()}"], opts, timeout=timeout
        )
        name = answers[0].get("Name") if answers else None
        if not isinstance(name, str) or not name:
            raise NetworkError(f"IPFS node at {self.api}: name/publish returned no name")
        return name

    def name_resolve(
        self, name: str, *, timeout: float | None = None, nocache: bool = False
    ) -> CID:
        """Resolve an IPNS name (with or without /ipns/) to the CID it points at."""
        target = name if name.startswith("/ipns/") else f"/ipns/{name}"
        if len(target) > MAX_API_TEXT or not re.fullmatch(r"/ipns/[A-Za-z0-9._-]+", target):
            raise UsageError(f"bad IPNS name {_one_line(name)!r}")
        opts = {"recursive": "true"}
        if nocache:
            opts["nocache"] = "true"
        answers = self._json("name/resolve", "/name/resolve", [target], opts, timeout=timeout)
        path = answers[0].get("Path") if answers else None
        if not isinstance(path, str) or not path.startswith("/ipfs/") or path.count("/") != 2:
            raise NetworkError(
                f"IPFS node at {self.api}: {target} does not resolve to /ipfs/CID "
                f"(got {_one_line(str(path))!r})"
            )
        return self._cid("name/resolve", path[len("/ipfs/") :])

    # -- pubsub ---------------------------------------------------------------

    def pubsub_publish(self, topic: str, data: bytes) -> None:
        """Publish one message; no subscribed peer (InsufficientPeers) is a NetworkError."""
        if len(data) > MAX_PUBSUB_MESSAGE:
            raise LimitExceeded(f"pubsub message over {MAX_PUBSUB_MESSAGE} bytes refused")
        body, headers = multipart.stream_bytes(data, chunk_size=_UPLOAD_CHUNK)
        try:
            self._json("pubsub/pub", "/pubsub/pub", [_topic_arg(topic)], data=body, headers=headers)
        except NodeError as exc:
            if "InsufficientPeers" in exc.detail:
                raise NetworkError(
                    f"IPFS node at {self.api}: no peer subscribes to pubsub topic {topic!r}"
                ) from exc
            raise

    def pubsub_peers(self, topic: str) -> list[str]:
        """Peers the node knows to be subscribed to `topic`."""
        answers = self._json("pubsub/peers", "/pubsub/peers", [_topic_arg(topic)])
        peers = answers[0].get("Strings") if answers else None
        return [p for p in peers or [] if isinstance(p, str)]

    def pubsub_subscribe(
        self, topic: str, *, timeout: float, max_messages: int = 1000
    ) -> Iterator[bytes]:
        """Subscribe now; the iterator yields message data until `timeout` seconds pass.

        The subscription is open when this returns. The iterator stops at the
        deadline (at most one idle `timeout` past it while waiting for a message) or
        after max_messages; closing it early ends the subscription.
        """
        if not timeout > 0:
            raise UsageError("pubsub timeout must be positive")
        deadline = time.monotonic() + timeout
        stream = self._stream(
            "pubsub/sub", "/pubsub/sub", [_topic_arg(topic)], decoder="json", timeout=timeout
        )
        return self._messages(stream, deadline, max_messages)

    def _messages(self, stream: Any, deadline: float, max_messages: int) -> Iterator[bytes]:
        count = 0
        try:
            while count < max_messages and time.monotonic() < deadline:
                try:
                    item = next(stream)
                except StopIteration:
                    return
                except _TRANSPORT as exc:
                    if _is_read_timeout(exc):
                        return  # nothing more arrived before the deadline
                    raise self._network_error("pubsub/sub", exc) from exc
                data = item.get("data") if isinstance(item, dict) else None
                if not isinstance(data, str):
                    continue  # the empty object sent when the subscription opens
                count += 1
                yield _multibase_bytes(data)
        finally:
            stream.close()

    # -- swarm ----------------------------------------------------------------

    def swarm_connect(self, multiaddr: str) -> None:
        """Connect to a peer, e.g. /ip4/127.0.0.1/tcp/4001/p2p/PEERID."""
        if not multiaddr.startswith("/") or len(multiaddr) > MAX_API_TEXT or " " in multiaddr:
            raise UsageError(f"bad peer address {_one_line(multiaddr)!r}")
        # One argument: ipfshttpclient 0.7.0's swarm.connect splits the string.
        self._json("swarm/connect", "/swarm/connect", [multiaddr])

    def swarm_peers(self) -> list[str]:
        """Peer IDs the node is connected to."""
        answers = self._json("swarm/peers", "/swarm/peers")
        peers = answers[0].get("Peers") if answers else None
        return [p["Peer"] for p in peers or [] if isinstance(p, dict) and "Peer" in p]

    # -- plumbing -------------------------------------------------------------

    def _timeout(self, timeout: float | None) -> float:
        value = self.timeout if timeout is None else float(timeout)
        if not value > 0:
            raise UsageError("IPFS timeout must be positive")
        return value

    def _json(
        self,
        what: str,
        path: str,
        args: list[str] | None = None,
        opts: dict[str, str] | None = None,
        *,
        data: Any = None,
        headers: dict[str, str] | None = None,
        timeout: float | None = None,
    ) -> list[dict[str, Any]]:
        """One RPC call decoded as a list of JSON objects (one per line)."""
        wait = self._timeout(timeout)
        try:
            answers = self._http.request(
                path,
                args or [],
                opts=opts or {},
                decoder="json",
                data=data,
                headers=headers,
                timeout=wait,
            )
        except _TRANSPORT as exc:
            raise self._network_error(what, exc, wait) from exc
        if not isinstance(answers, list) or not all(isinstance(a, dict) for a in answers):
            raise NetworkError(f"IPFS node at {self.api}: {what} answer is not a JSON object")
        return answers

    def _one_json(self, what: str, path: str) -> dict[str, Any]:
        answers = self._json(what, path)
        if len(answers) != 1:
            raise NetworkError(f"IPFS node at {self.api}: {what} answer is not one JSON object")
        return answers[0]

    def _answers(self, path: str) -> bool:
        try:
            self._json(path, path)
        except NetworkError:
            return False
        return True

    def _stream(
        self,
        what: str,
        path: str,
        args: list[str],
        *,
        decoder: str = "none",
        timeout: float | None = None,
    ) -> Any:
        wait = self._timeout(timeout)
        try:
            return self._http.request(path, args, decoder=decoder, stream=True, timeout=wait)
        except _TRANSPORT as exc:
            raise self._network_error(what, exc, wait) from exc

    def _guard_iter(self, what: str, stream: Any, timeout: float | None) -> Iterator[bytes]:
        wait = self._timeout(timeout)
        while True:
            try:
                chunk = next(stream)
            except StopIteration:
                return
            except _TRANSPORT as exc:
                raise self._network_error(what, exc, wait) from exc
            yield chunk

    def _cid(self, what: str, text: object) -> CID:
        if not isinstance(text, str):
            raise NetworkError(f"IPFS node at {self.api}: {what} answer has no CID")
        try:
            return CID.decode(text)
        except UsageError as exc:
            raise NetworkError(
                f"IPFS node at {self.api}: {what} answered a CID that does not parse: {exc}"
            ) from exc

    def _network_error(self, what: str, exc: BaseException, wait: float | None = None) -> NodeError:
        detail = _describe(exc, wait if wait is not None else self.timeout)
        return NodeError(f"IPFS node at {self.api}: {what} failed: {detail}", detail)


def _is_read_timeout(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    for _ in range(8):  # bounded walk down the cause chain
        if seen is None:
            return False
        if isinstance(
            seen,
            ipfs_exc.TimeoutError
            | requests.Timeout
            | urllib3.exceptions.ReadTimeoutError
            | TimeoutError,
        ):
            return True
        if seen.args and isinstance(seen.args[0], BaseException):
            nested: BaseException | None = seen.args[0]
        else:
            nested = seen.__cause__ or seen.__context__
        seen = nested
    return False


def _status(exc: BaseException) -> int | None:
    original = getattr(exc, "original", None)
    response = getattr(original, "response", None)  # a requests.Response is falsy on 500
    if response is None:
        response = getattr(exc, "response", None)
    code = getattr(response, "status_code", None)
    return code if isinstance(code, int) else None


def _describe(exc: BaseException, wait: float) -> str:
    """One line: HTTP status and the node's message, or what went wrong on the wire."""
    if isinstance(exc, ipfs_exc.ErrorResponse):
        status = _status(exc)
        prefix = f"HTTP {status}: " if status else ""
        return prefix + _one_line(str(exc.args[0]) if exc.args else str(exc))
    if isinstance(exc, ipfs_exc.StatusError):
        status = _status(exc)
        return f"HTTP {status}" if status else _one_line(str(exc))
    if _is_read_timeout(exc):
        return f"no answer within {wait:g} s"
    if isinstance(exc, ipfs_exc.DecodingError | json.JSONDecodeError):
        return "the answer is not IPFS RPC JSON"
    text = str(exc)
    if "Connection refused" in text or "ConnectionRefusedError" in text:
        return "connection refused"
    if "Name or service not known" in text or "NameResolutionError" in text:
        return "host name does not resolve"
    if isinstance(exc, ipfs_exc.ProtocolError):
        return "the connection broke or the answer is not HTTP"
    return _one_line(text)


def _one_line(text: str) -> str:
    clean = "".join(c if c.isprintable() else " " for c in text)
    clean = " ".join(clean.split())
    return clean if len(clean) <= _MAX_DETAIL else clean[: _MAX_DETAIL - 3] + "..."


def _cid_field(value: object) -> object:
    # dag/import reports {"/": "bafy..."} (DAG-JSON link form)
    return value.get("/") if isinstance(value, dict) else value


def _same_block(a: CID, b: CID) -> bool:
    # CIDv0 Qm... and its CIDv1 name the same dag-pb block
    return a.codec == b.codec and a.multihash == b.multihash


def _check_key_name(name: str) -> None:
    if not re.fullmatch(r"[A-Za-z0-9._-]{1,64}", name) or name in (".", ".."):
        raise UsageError(f"bad IPFS key name {_one_line(name)!r} (letters, digits, . _ -)")


def _topic_arg(topic: str) -> str:
    """Multibase form current nodes require: 'u' + base64url without padding."""
    raw = topic.encode("utf-8")
    if not raw or len(raw) > 256:
        raise UsageError("pubsub topic must be 1-256 bytes")
    return "u" + base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _multibase_bytes(text: str) -> bytes:
    """Message data: multibase 'u' (current nodes) or plain base64 (older Kubo)."""
    try:
        if text.startswith("u"):
            body = text[1:]
            return base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise NetworkError("pubsub message data is not valid multibase") from exc
