"""Trustless gateway client: GET /ipfs/CID?format=car into a file, bounded in size and time.

Spec: https://specs.ipfs.tech/http-gateways/trustless-gateway/ (CAR responses,
`Accept: application/vnd.ipld.car`, `dag-scope=all`). The gateway is untrusted
transport: this module only moves bytes; the caller verifies every block and the
signature before anything is used.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import BinaryIO
from urllib.parse import urlsplit

import requests
import urllib3

from .errors import LimitExceeded, NetworkError, StorageError, UsageError
from .ipld.cid import CID

CAR_ACCEPT = "application/vnd.ipld.car;version=1;order=dfs;dups=y, application/vnd.ipld.car;q=0.9"
MAX_REDIRECTS = 3
_CHUNK = 1 << 16


class Cancelled(NetworkError):
    """Another source already delivered a verified copy."""


def read_chunks(response: requests.Response, size: int = _CHUNK) -> Iterator[bytes]:
    """The body as it arrives: each chunk is whatever the socket has (up to `size`), so
    a caller's deadline is checked even while a server trickles one byte at a time
    (iter_content would wait for `size` bytes, each recv resetting the read timeout)."""
    raw = response.raw
    while True:
        chunk = raw.read1(size, decode_content=True)
        if not chunk:
            return
        yield chunk


def check_gateway(url: str) -> str:
    """A gateway base URL: http(s), a host, no credentials, query or fragment."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"a gateway is an http(s) URL like https://gateway.example: {url!r}")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise UsageError(f"a gateway URL has no credentials, query or fragment: {url!r}")
    return url.strip().rstrip("/")


def car_url(gateway: str, cid: CID) -> str:
    return f"{check_gateway(gateway)}/ipfs/{cid.encode()}?format=car&dag-scope=all"


def fetch_car(
    gateway: str,
    cid: CID,
    out: BinaryIO,
    *,
    max_bytes: int,
    timeout: float,
    cancel: threading.Event | None = None,
    session: requests.Session | None = None,
) -> int:
    """Stream the CAR of `cid` from `gateway` into `out`; returns the bytes written.

    `timeout` bounds the whole transfer (a gateway trickling bytes is cut off), and
    `cancel` stops it early. Raises NetworkError, LimitExceeded or Cancelled.
    """
    url = car_url(gateway, cid)
    deadline = time.monotonic() + timeout
    http = session or requests.Session()
    http.max_redirects = MAX_REDIRECTS
    name = urlsplit(url).netloc
    try:
        response = http.get(
            url,
            headers={"Accept": CAR_ACCEPT, "User-Agent": "mirror"},
            stream=True,
            timeout=(min(10.0, timeout), timeout),
        )
    except requests.RequestException as exc:
        raise NetworkError(f"gateway {name}: {type(exc).__name__}") from exc
    written = 0
    try:
        if response.status_code != 200:
            raise NetworkError(f"gateway {name} answered HTTP {response.status_code}")
        for chunk in read_chunks(response):
            if cancel is not None and cancel.is_set():
                raise Cancelled(f"gateway {name}: cancelled")
            if time.monotonic() > deadline:
                raise NetworkError(f"gateway {name}: no complete answer within {timeout:g} s")
            written += len(chunk)
            if written > max_bytes:
                raise LimitExceeded(f"gateway {name}: CAR larger than {max_bytes} bytes")
            try:
                out.write(chunk)
            except OSError as exc:
                raise StorageError(f"cannot write the CAR from {name}: {exc.strerror}") from exc
    except (requests.RequestException, urllib3.exceptions.HTTPError) as exc:
        raise NetworkError(f"gateway {name}: {type(exc).__name__} while reading") from exc
    finally:
        response.close()
    return written
