"""An in-memory publisher for tests, in the spirit of python-tuf's RepositorySimulator.

The simulator holds Ed25519 keys made from fixed seeds (no passphrase, no scrypt),
a publisher identity chain, bundles and feed versions, and signs whatever a test asks
for, when it asks. Knobs make it lie the way an attacker or a broken network would:

    sim = Simulator(tmp_path)
    root = sim.add_bundle("one")                 # signed under the current identity
    first = sim.publish()                        # feed version 1 (+ head), kept in history
    sim.feed.version = 99                        # next feed claims version 99
    sim.feed.expires = PAST                      # next feed is already expired (frozen)
    sim.signers = [sim.key(9)]                   # next feed/head signed by these keys only
    sim.chain_length = 1                         # next feed embeds only identity v1
    sim.feed.entries = [...]                     # next feed lists exactly these entries
    sim.corrupt[root] = CID                      # serve that block with a flipped byte
    sim.rotate(add=[sim.key(2)], remove=[sim.key(1)])  # identity v2, signed by old + new

Transports serve exactly what the simulator holds, with the knobs applied:
`write_car(cid, path)` (a CAR file on disk), `serve_http()` (a trustless gateway on
127.0.0.1 answering /ipfs/CID?format=car plus /head.json, with `endless` and
`delay` knobs) and `import_to(node)` (dag/import into a js-ipfs node).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from mirror import bundle, canonjson, envelope, feed, identity
from mirror.clock import format_time
from mirror.ipld import car, varint
from mirror.ipld.cid import CID
from mirror.keys import PublicKey, SigningKey, TrustedKey
from mirror.publisher import next_version
from mirror.signer import Signer
from tests.helpers.webserver import Server, serve

CLOCK = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
PAST = datetime.now(UTC) - timedelta(days=30)


def seeded_key(n: int, name: str | None = None) -> SigningKey:
    """Key number n: the same on every run (seed = 32 bytes of n, public, tests only)."""
    return SigningKey(name or f"k{n}", Ed25519PrivateKey.from_private_bytes(bytes([n]) * 32))


@dataclass
class FeedKnobs:
    """Overrides for the next feed published; None means 'as an honest publisher'."""

    version: int | None = None
    expires: datetime | None = None
    entries: list[feed.FeedEntry] | None = None
    ttl: timedelta = feed.DEFAULT_TTL


@dataclass(frozen=True)
class Published:
    """One feed version as published: the feed file, its CID and CAR, the head."""

    version: int
    feed_bytes: bytes
    feed_cid: CID
    car: bytes
    head_bytes: bytes


@dataclass
class SimBundle:
    root: CID
    car: bytes
    entry: feed.FeedEntry


@dataclass
class Simulator:
    workdir: Path
    name: str = "sim"
    use_identity: bool = True
    feed: FeedKnobs = field(default_factory=FeedKnobs)
    signers: list[SigningKey] | None = None  # None: the identity's current keys
    chain_length: int | None = None  # None: the whole chain
    corrupt: dict[CID, CID] = field(default_factory=dict)  # CAR root -> block to damage
    endless: bool = False  # HTTP: after the CAR, send zeros forever
    delay: float = 0.0  # HTTP: seconds between 1-byte writes (slow delivery)
    bundles: dict[CID, SimBundle] = field(default_factory=dict)
    history: list[Published] = field(default_factory=list)
    envelopes: list[envelope.Envelope] = field(default_factory=list)  # identity v1..vN

    def __post_init__(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._counter = 0
        if self.use_identity:
            self._sign_identity(
                identity.Identity(
                    self.name,
                    1,
                    format_time(CLOCK + timedelta(days=3650)),
                    1,
                    (self.key(1).public,),
                ),
                [self.key(1)],
            )

    # -- keys and identity ----------------------------------------------------------------

    def key(self, n: int) -> SigningKey:
        return seeded_key(n, f"{self.name}-k{n}")

    def trusted(self, n: int = 1) -> list[TrustedKey]:
        """What a reader who trusts key n of this publisher holds."""
        return [TrustedKey(self.name, self.key(n).public, "")]

    @property
    def chain(self) -> identity.Chain:
        first = identity.Identity.from_bytes(self.envelopes[0].payload)
        return identity.verify_chain(self.envelopes, first.keys)

    def current_keys(self) -> list[SigningKey]:
        """Signing keys for the current identity: its unrevoked keys, threshold many."""
        if not self.use_identity:
            return [self.key(1)]
        chain = self.chain
        wanted = [k for k in chain.current.keys if k not in chain.revoked]
        return [self._signing(k) for k in wanted[: chain.current.threshold]]

    def _signing(self, public: PublicKey) -> SigningKey:
        for n in range(1, 256):
            if self.key(n).public == public:
                return self.key(n)
        raise KeyError(public.key_id)

    def _sign_identity(self, doc: identity.Identity, keys: Sequence[SigningKey]) -> None:
        env = envelope.sign(envelope.IDENTITY_TYPE, doc.to_bytes(), list(keys))
        self.envelopes.append(env)
        self.chain  # noqa: B018 - fails loudly if the simulator built a broken chain

    def rotate(
        self,
        *,
        add: Sequence[SigningKey] = (),
        remove: Sequence[SigningKey] = (),
        revoke: Sequence[SigningKey] = (),
        threshold: int | None = None,
    ) -> int:
        """The next identity version, signed by every unrevoked old key and every new key."""
        chain = self.chain
        doc = next_version(
            chain,
            add=[k.public for k in add],
            remove=[k.public for k in remove],
            revoke=[k.public for k in revoke],
            threshold=threshold,
            ttl=timedelta(days=3650),
            now=CLOCK,
        )
        revoked = chain.revoked | set(doc.revoked)
        signers = [
            self._signing(k)
            for k in dict.fromkeys([*chain.current.keys, *doc.keys])
            if k not in revoked
        ]
        self._sign_identity(doc, signers)
        return doc.version

    def chain_doc(self, length: int | None = None) -> dict[str, Any] | None:
        if not self.use_identity:
            return None
        envs = self.envelopes[: length or len(self.envelopes)]
        return canonjson.loads(
            identity.chain_bytes(envs).rstrip(b"\n"), max_size=identity.MAX_CHAIN
        )

    # -- bundles ---------------------------------------------------------------------------

    def add_bundle(
        self, title: str, *, keys: Sequence[SigningKey] | None = None, size: int = 0
    ) -> CID:
        """A real signed bundle (built in the work folder, then held as CAR bytes)."""
        self._counter += 1
        folder = self.workdir / f"bundle-{self._counter}"
        signers = list(keys) if keys is not None else self.current_keys()
        signer = Signer.single(signers[0])
        if self.use_identity:
            chain = self.chain
            signer = Signer(tuple(signers), chain.current.version, chain.to_bytes())
        content: dict[str, bytes | Path] = {
            "index.html": f"<!doctype html><title>{title}</title><p>{title}</p>\n".encode(),
        }
        if size:
            content["data.bin"] = bytes(size)
        url = f"https://sim.example/{self._counter}"
        bundle.write_bundle(
            folder,
            content,
            article={"title": title, "canonical_url": url},
            capture={
                "requested_url": url,
                "final_url": url,
                "fetched_at": format_time(CLOCK),
                "tool": "simulator",
            },
            signer=signer,
            created_at=format_time(CLOCK),
        )
        car_path = self.workdir / f"bundle-{self._counter}.car"
        root = car.write_car(folder, car_path).root
        data = car_path.read_bytes()
        manifest = (folder / "manifest.json").read_bytes()
        entry = feed.FeedEntry(
            root.encode(),
            url,
            title,
            None,
            format_time(CLOCK),
            feed.sha256_tag(manifest),
            len(data),
        )
        self.bundles[root] = SimBundle(root, data, entry)
        return root

    # -- feeds -------------------------------------------------------------------------------

    def publish(self) -> Published:
        """Sign the next feed and head with the knobs applied; knobs then reset."""
        previous = self.history[-1] if self.history else None
        version = self.feed.version or ((previous.version + 1) if previous else 1)
        signers = self.signers or self.current_keys()
        entries = self.feed.entries
        if entries is None:
            entries = [b.entry for b in reversed(self.bundles.values())]
        now = datetime.now(UTC).replace(microsecond=0)
        doc = feed.Feed(
            key_id=signers[0].public.key_id,
            public_key=signers[0].public.to_text(),
            version=version,
            created_at=feed.format_time(now),
            expires=feed.format_time(self.feed.expires or (now + self.feed.ttl)),
            previous=previous.feed_cid.encode() if previous else None,
            entries=tuple(entries),
            identity=self.chain_doc(self.chain_length),
        )
        data = feed.sign_feed(doc, signers)
        path = self.workdir / f"feed-{len(self.history)}.json"
        path.write_bytes(data)
        root = car.write_car(path, path.with_suffix(".car")).root
        head = feed.sign_head(feed.head_for(doc, root.encode()), signers)
        published = Published(version, data, root, path.with_suffix(".car").read_bytes(), head)
        self.history.append(published)
        self.feed = FeedKnobs()
        return published

    @property
    def latest(self) -> Published:
        return self.history[-1]

    # -- transports ---------------------------------------------------------------------------

    def car_bytes(self, cid: CID) -> bytes:
        """The CAR of a bundle or feed root, with a block damaged when `corrupt` says so."""
        data = next(
            (b.car for b in self.bundles.values() if b.root == cid),
            next((p.car for p in self.history if p.feed_cid == cid), None),
        )
        if data is None:
            raise KeyError(cid.encode())
        target = self.corrupt.get(cid)
        return data if target is None else damage_block(data, target)

    def write_car(self, cid: CID, path: Path) -> Path:
        path.write_bytes(self.car_bytes(cid))
        return path

    def import_to(self, client: Any, cid: CID) -> None:
        """dag/import the CAR into an IPFS node (mirror.ipfs.IpfsNode)."""
        path = self.workdir / f"import-{cid.encode()}.car"
        self.write_car(cid, path)
        client.dag_import(path)

    @contextmanager
    def serve_http(self) -> Iterator[Server]:
        """A trustless gateway for every root held, and /head.json (the latest head)."""
        with serve() as server:
            server.routes = _Routes(self)
            yield server

    def send(self, h: BaseHTTPRequestHandler, data: bytes, kind: str) -> None:
        """Send `data` honestly, slowly (`delay` per byte) or endlessly (zeros after it)."""
        h.send_response(200)
        h.send_header("Content-Type", kind)
        if self.endless:
            h.send_header("Transfer-Encoding", "chunked")
        else:
            h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        try:
            if self.endless:
                h.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                block = bytes(1 << 20)
                deadline = time.monotonic() + 60  # bounded, so the server thread ends
                while time.monotonic() < deadline:
                    h.wfile.write(b"%x\r\n%s\r\n" % (len(block), block))
            elif self.delay:
                deadline = time.monotonic() + 60
                for i in range(len(data)):
                    if time.monotonic() > deadline:
                        break
                    h.wfile.write(data[i : i + 1])
                    h.wfile.flush()
                    time.sleep(self.delay)
            else:
                h.wfile.write(data)
        except OSError:
            pass  # the client gave up: what the knob is for


class _Routes(dict[str, Any]):
    """Routes computed from the simulator at request time."""

    def __init__(self, sim: Simulator) -> None:
        super().__init__()
        self.sim = sim

    def get(self, path: str, default: Any = None) -> Any:
        if path == "/head.json":
            return lambda h: self.sim.send(h, self.sim.latest.head_bytes, "application/json")
        if path.startswith("/ipfs/") and "?" not in path:
            try:
                data = self.sim.car_bytes(CID.decode(path[len("/ipfs/") :]))
            except (KeyError, ValueError):
                return default
            return lambda h: self.sim.send(h, data, "application/vnd.ipld.car")
        return default


def damage_block(car_bytes: bytes, target: CID) -> bytes:
    """The CAR with the last byte of `target`'s block flipped (its CID left intact)."""
    header_len, pos = varint.decode(car_bytes, 0)
    pos += header_len
    out = bytearray(car_bytes)
    while pos < len(car_bytes):
        length, start = varint.decode(car_bytes, pos)
        cid, _ = CID.from_bytes(car_bytes, start)
        end = start + length
        if cid == target:
            out[end - 1] ^= 0xFF
            return bytes(out)
        pos = end
    raise KeyError(f"block {target.encode()} is not in the CAR")


def blocks_of(car_bytes: bytes) -> list[CID]:
    """The CIDs of the blocks in a CAR, in order."""
    header_len, pos = varint.decode(car_bytes, 0)
    pos += header_len
    found = []
    while pos < len(car_bytes):
        length, start = varint.decode(car_bytes, pos)
        found.append(CID.from_bytes(car_bytes, start)[0])
        pos = start + length
    return found


def copy_feed(published: Published) -> feed.Feed:
    """The feed document of a published version (for tests that forge a variant)."""
    env = envelope.Envelope.from_bytes(published.feed_bytes, max_size=feed.MAX_FEED_FILE)
    return feed.Feed.from_bytes(env.payload)


__all__ = [
    "CLOCK",
    "PAST",
    "FeedKnobs",
    "Published",
    "SimBundle",
    "Simulator",
    "blocks_of",
    "damage_block",
    "seeded_key",
]
