"""The verdict corpus: one folder per case under manifests/vectors/verdicts/.

Each case holds its input (a bundle folder `bundle/`, `bundle.car` or `article.html`)
and case.json = {kind, input, trust, state, now, expect: {exit_code, reason}, surfaces}
(the shared contract). Every surface of the reader (verify, unpack, read, get, follow,
export, the in-browser verifier) must give `expect` for the case; the cases are data,
so any implementation can be checked against them.

Genuine inputs come from mirror's own writers through the few adapter functions at the
top of this module (the only calls into mirror's Python API); every hostile variant is a
byte manipulation of a genuine output. Keys come from fixed public seeds and the clock
is fixed, so the corpus is the same byte for byte on every run (make_vectors.py --check).

Cases git cannot hold (a sparse 1 TiB file, a FIFO, symlinks) are recipes: kind
"recipe", input the recipe name, and the genuine bundle folder the recipe starts from
in `bundle/`; tests/corpus builds them.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

# -- adapters: every call into mirror's Python API ---------------------------------------
from mirror import bundle as _bundle
from mirror import canonjson as _canonjson
from mirror import envelope as _envelope
from mirror import export_format as _export_format
from mirror import feed as _feed
from mirror import identity as _identity
from mirror import verify as _verify
from mirror.ipld import car as _car
from mirror.ipld import dagpb as _dagpb
from mirror.ipld import unixfs as _unixfs
from mirror.ipld.cid import CID
from mirror.keys import SigningKey
from mirror.signer import Signer as _Signer
from mirror.timeline import TimestampPolicy as _TimestampPolicy
from mirror.timestamp import TsaRoot as _TsaRoot

MANIFEST_TYPE = _envelope.MANIFEST_TYPE
FEED_TYPE = _envelope.FEED_TYPE
IDENTITY_TYPE = _envelope.IDENTITY_TYPE


def make_key(label: str) -> SigningKey:
    """A key from a fixed public seed: sha256("mirror verdict corpus: " + label)."""
    seed = hashlib.sha256(b"mirror verdict corpus: " + label.encode()).digest()
    return SigningKey(label, Ed25519PrivateKey.from_private_bytes(seed))


def key_text(key: SigningKey) -> str:
    return key.public.to_text()


def key_id(key: SigningKey) -> str:
    return key.public.key_id


def canonical(value: Any) -> bytes:
    """Canonical JSON bytes (no newline)."""
    return _canonjson.dumps(value)


def sign_envelope(payload_type: str, payload: bytes, keys: Sequence[SigningKey]) -> bytes:
    """A signed envelope as mirror writes it (signatures in key-id order)."""
    ordered = sorted(keys, key=key_id)
    return _envelope.sign(payload_type, payload, ordered).to_bytes()


def identity_version(
    *,
    name: str,
    version: int,
    expires: str,
    threshold: int,
    keys: Sequence[SigningKey],
    revoked: Sequence[SigningKey] = (),
    previous: bytes | None,
    signers: Sequence[SigningKey],
    extra: dict[str, Any] | None = None,
) -> bytes:
    """One signed identity document (an envelope); `previous` is the previous payload."""
    doc = _identity.Identity(
        name,
        version,
        expires,
        threshold,
        tuple(k.public for k in keys),
        tuple(k.public for k in revoked),
        None if previous is None else "sha256:" + hashlib.sha256(previous).hexdigest(),
        dict(extra or {}),
    )
    return sign_envelope(IDENTITY_TYPE, doc.to_bytes(), signers)


def timestamps_field(required: bool, roots: Sequence[tuple[str, str]]) -> dict[str, Any]:
    """An identity version's `timestamps` field (decision 0008): roots as (name, PEM)."""
    policy = _TimestampPolicy(
        required, tuple(_TsaRoot.from_pem(n, pem.encode("ascii")) for n, pem in roots)
    )
    return {"timestamps": policy.to_field()}


def envelope_payload(envelope_bytes: bytes) -> bytes:
    return base64.b64decode(json.loads(envelope_bytes)["payload"])


def chain_document(versions: Sequence[bytes]) -> bytes:
    """identity.json bytes for signed identity versions (envelope bytes, oldest first)."""
    return _identity.chain_bytes(
        [_envelope.Envelope.from_bytes(v, max_size=1 << 20) for v in versions]
    )


def write_folder(
    out: Path,
    content: dict[str, bytes],
    *,
    keys: Sequence[SigningKey],
    chain: bytes | None,
    version: int | None,
    article: dict[str, Any],
    capture: dict[str, Any],
    created_at: str,
) -> None:
    """A signed bundle folder: with `chain`, under identity version `version`."""
    ordered = sorted(keys, key=key_id)
    _bundle.write_bundle(
        out,
        content,
        article=article,
        capture=capture,
        signer=_Signer(tuple(ordered), version if chain is not None else None, chain),
        created_at=created_at,
    )


def write_car(folder: Path, out: Path) -> str:
    """The CAR of a folder as mirror writes it; returns its root CID."""
    return _car.write_car(folder, out).root.encode()


def render_export(
    page: bytes, images: dict[str, bytes], manifest_json: bytes, chain: bytes | None
) -> bytes:
    """The single-file export of a bundle's parts, identity slot filled from `chain`."""
    return _export_format.render(page, images, manifest_json, chain)


def signed_feed(
    keys: Sequence[SigningKey],
    *,
    version: int,
    previous: bytes | None,
    created_at: str,
    expires: str,
    entry: dict[str, Any],
    chain: bytes | None,
) -> bytes:
    """A feed file as the publisher's tool writes it; `previous` is the previous feed file."""
    ordered = sorted(keys, key=key_id)
    doc = _feed.Feed(
        key_id=key_id(ordered[0]),
        public_key=key_text(ordered[0]),
        version=version,
        created_at=created_at,
        expires=expires,
        previous=None if previous is None else _unixfs.file_cid(previous).encode(),
        entries=(_feed.FeedEntry(**entry),),
        identity=None if chain is None else json.loads(chain),
    )
    return _feed.sign_feed(doc, ordered)


def car_dag_size(path: Path, root: CID) -> int:
    return _verify.dag_size(path, root)


def dag_pb_cid(block: bytes) -> CID:
    return CID.dag_pb(block)


def dag_pb_cid_of_digest(digest: bytes) -> CID:
    """A dag-pb CID naming a sha2-256 digest (of a node nobody needs to hold)."""
    return CID.from_digest(0x70, digest)


def raw_cid(block: bytes) -> CID:
    return CID.raw(block)


def decode_node(block: bytes) -> list[tuple[CID, str, int]]:
    node = _dagpb.decode(block)
    return [(link.hash, link.name or "", link.tsize or 0) for link in node.links]


def directory_block(links: Sequence[tuple[str, CID, int]]) -> bytes:
    """A UnixFS directory node, links in the order given (callers sort by name bytes)."""
    node = _dagpb.PBNode(tuple(_dagpb.PBLink(c, n, t) for n, c, t in links), _unixfs.DIR_DATA)
    return _dagpb.encode(node)


def file_block(children: Sequence[tuple[CID, int]]) -> bytes:
    """A UnixFS file node over raw leaves of the given sizes."""
    sizes = tuple(s for _, s in children)
    data = _unixfs.encode_data(
        _unixfs.UnixFSData(_unixfs.T_FILE, filesize=sum(sizes), blocksizes=sizes)
    )
    links = tuple(_dagpb.PBLink(c, "", s) for c, s in children)
    return _dagpb.encode(_dagpb.PBNode(links, data))


def car_bytes(root: CID, blocks: Sequence[tuple[CID, bytes]]) -> bytes:
    out = bytearray(_car.header_bytes([root]))
    for cid, block in blocks:
        section = cid.to_bytes() + block
        out += _varint(len(section)) + section
    return bytes(out)


def read_car(data: bytes) -> tuple[CID, list[tuple[CID, bytes]]]:
    """(root, blocks in file order) of a CARv1 mirror wrote."""
    pos = 0
    header_len, pos = _read_varint(data, pos)
    header = data[pos : pos + header_len]
    pos += header_len
    return _header_root(header), list(_read_blocks_from(data, pos))


# -- byte helpers (no mirror API) --------------------------------------------------------


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    n = shift = 0
    while True:
        b = data[pos]
        pos += 1
        n |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return n, pos


def _read_blocks_from(data: bytes, pos: int):  # type: ignore[no-untyped-def]
    while pos < len(data):
        length, pos = _read_varint(data, pos)
        section = data[pos : pos + length]
        cid, used = CID.from_bytes(section)
        yield cid, bytes(section[used:])
        pos += length


def _header_root(header: bytes) -> CID:
    # dag-cbor {"roots": [tag 42 (bytes 0x00 + cid)], "version": 1}: find the tagged bytes
    at = header.index(b"\xd8\x2a") + 2
    major = header[at]
    if major == 0x58:
        length, at = header[at + 1], at + 2
    elif major == 0x59:
        length, at = int.from_bytes(header[at + 1 : at + 3], "big"), at + 3
    else:
        length, at = major - 0x40, at + 1
    cid, _ = CID.from_bytes(header[at + 1 : at + length])
    return cid


# -- the corpus ---------------------------------------------------------------------------

CLOCK = "2026-01-02T03:04:05Z"
EXPIRES = "2036-01-01T00:00:00Z"  # identity versions stay valid for the corpus' life
GIF = bytes.fromhex("47494638396101000100800000000000ffffff2c00000000010001000002024401003b")
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)
ARTICLE = {
    "title": "Проверка",
    "byline": "Редакция",
    "authors": ["Редакция"],
    "language": "ru",
    "site_name": "Example",
    "canonical_url": "https://example.org/verdicts",
}
CAPTURE = {
    "requested_url": "https://example.org/verdicts",
    "final_url": "https://example.org/verdicts",
    "fetched_at": CLOCK,
    "tool": "mirror vectors",
}

# The keys: A is what the reader trusts; B the key A rotates to; C, D the co-signers of
# a 2-of-3 identity {A, C, D}; O a key nobody trusts.
KEY_LABELS = ("A", "B", "C", "D", "O")
KEYS = {label: make_key(label) for label in KEY_LABELS}


def signing_key_for(public_text: str) -> SigningKey:
    """The corpus key with this public key (tests sign feeds with it)."""
    for key in KEYS.values():
        if key_text(key) == public_text:
            return key
    raise KeyError(public_text)


def page(title: str, images: Sequence[str] = ()) -> bytes:
    imgs = "".join(f'<img src="{p}" alt="">' for p in images)
    return (
        "<!doctype html><html lang=ru><head><meta charset=utf-8>"
        f"<title>{title}</title></head><body><article><h1>{title}</h1>"
        f"<p>Текст статьи.</p>{imgs}</article></body></html>\n"
    ).encode()


def content(images: bool = False) -> dict[str, bytes]:
    files = {"index.html": page("Проверка"), "article.md": "# Проверка\n\nТекст статьи.\n".encode()}
    if images:
        files["index.html"] = page("Проверка", ["assets/a.gif", "assets/b.png"])
        files["assets/a.gif"] = GIF
        files["assets/b.png"] = PNG
    return files


@dataclass
class Identity:
    """A publisher identity chain, as signed identity versions (envelope bytes)."""

    versions: list[bytes]

    @property
    def chain(self) -> bytes:
        return chain_document(self.versions)

    def prefix(self, n: int) -> Identity:
        return Identity(self.versions[:n])

    def state(self, anchor: SigningKey) -> dict[str, Any]:
        return {"anchor": key_text(anchor), "chain": json.loads(self.chain)}


def _v(
    version: int,
    keys: Sequence[str],
    signers: Sequence[str],
    *,
    threshold: int = 1,
    revoked: Sequence[str] = (),
    previous: bytes | None = None,
    expires: str = EXPIRES,
    extra: dict[str, Any] | None = None,
) -> bytes:
    return identity_version(
        name="example",
        version=version,
        expires=expires,
        threshold=threshold,
        keys=[KEYS[k] for k in keys],
        revoked=[KEYS[k] for k in revoked],
        previous=previous,
        signers=[KEYS[k] for k in signers],
        extra=extra,
    )


# -- timestamps: tokens made once by a real TSA, committed (a fixed clock cannot make them)

MATERIAL = Path(__file__).resolve().parent / "timestamps" / "material.json"
CORPUS_TSA, STRANGER_TSA = "corpus-tsa", "stranger-tsa"


class Stamps:
    """RFC 3161 tokens for the stamped cases, by order label and the stamped bytes.

    Ed25519 signatures are deterministic, so a token made once over a signature stays
    valid for every rebuild; `manifests/mint_timestamps.py` (real `openssl ts`) makes
    the material again when the signatures change (labels sort in the order the
    tokens must be made: before the rotation, the rotation, after it)."""

    def __init__(self, doc: dict[str, Any] | None = None, *, collect: bool = False) -> None:
        if doc is None:
            doc = json.loads(MATERIAL.read_text(encoding="utf-8")) if MATERIAL.exists() else {}
        self.roots: dict[str, str] = dict(doc.get("roots", {}))
        self.tokens: dict[str, str] = dict(doc.get("tokens", {}))
        self.collect = collect
        self.wanted: list[tuple[str, str, bytes]] = []  # (label, tsa, stamped bytes)

    @staticmethod
    def key(label: str, tsa: str, data: bytes) -> str:
        return f"{label}:{tsa}:{hashlib.sha256(data).hexdigest()}"

    def token(self, label: str, tsa: str, data: bytes) -> str:
        self.wanted.append((label, tsa, data))
        found = self.tokens.get(self.key(label, tsa, data))
        if found is None:
            if self.collect:
                return base64.b64encode(b"placeholder").decode()
            raise RuntimeError(
                "timestamp material is stale or missing: run manifests/mint_timestamps.py"
            )
        return found

    def root(self, name: str) -> str:
        if name not in self.roots:
            raise RuntimeError("no TSA roots: run manifests/mint_timestamps.py")
        return self.roots[name]


STAMPS: Stamps | None = None  # mint_timestamps.py installs a collecting one


def stamps() -> Stamps:
    global STAMPS
    if STAMPS is None:
        STAMPS = Stamps()
    return STAMPS


def stamp_signatures(envelope_bytes: bytes, label: str, tsa: str = CORPUS_TSA) -> bytes:
    """The envelope with a `tst` on every signature, as `--tsa` would write it."""
    env = json.loads(envelope_bytes)
    for sig in env["signatures"]:
        sig["tst"] = stamps().token(label, tsa, base64.b64decode(sig["sig"]))
    return canonical(env) + b"\n"


def stamped_identity() -> Identity:
    """v1 {A}; v2 {A, B, C} 2-of-3 requiring timestamps, listing the corpus TSA's root,
    its signatures stamped (label 2): the threat model's section 4 scenario."""
    v1 = _v(1, "A", "A")
    policy = timestamps_field(True, [(CORPUS_TSA, stamps().root(CORPUS_TSA))])
    v2 = _v(2, "ABC", "ABC", threshold=2, previous=envelope_payload(v1), extra=policy)
    return Identity([v1, stamp_signatures(v2, "2-rotation")])


def identities() -> dict[str, Identity]:
    v1 = _v(1, "A", "A")
    rotated_v2 = _v(2, "B", "AB", previous=envelope_payload(v1))
    # A key is revoked by a version its successor signs: v3 (signed by B) revokes A.
    revoking_v3 = _v(3, "B", "B", revoked="A", previous=envelope_payload(rotated_v2))
    fork_v2 = _v(2, "B", "AB", previous=envelope_payload(v1), expires="2035-06-01T00:00:00Z")
    broken_v2 = _v(2, "B", "AB", previous=b"not the payload of version 1")
    t1 = _v(1, "ACD", "ACD", threshold=2)
    return {
        "plain": Identity([v1]),
        "rotated": Identity([v1, rotated_v2]),
        "revoking": Identity([v1, rotated_v2, revoking_v3]),
        "fork": Identity([v1, fork_v2]),
        "broken": Identity([v1, broken_v2]),
        "threshold": Identity([t1]),
    }


@dataclass
class Case:
    name: str
    kind: str  # folder | car | export | recipe
    expect: tuple[int, str | None]
    surfaces: list[str]
    write: Callable[[Path], str]  # writes the input into the case folder, returns its name
    trust: list[str] = field(default_factory=lambda: ["A"])
    state: list[dict[str, Any]] = field(default_factory=list)
    note: str = ""
    recipe: str | None = None  # kind "recipe": the recipe name the test builds
    feed_identity: str | None = None  # the chain a feed of this publisher carries
    feeds: dict[str, Any] | None = None  # feed knobs: signed feed files written beside

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "input": "",
            "trust": [
                {"name": "pub" if i == 0 else f"pub{i + 1}", "key": key_text(KEYS[k])}
                for i, k in enumerate(self.trust)
            ],
            "state": self.state,
            "now": CLOCK,
            "expect": {"exit_code": self.expect[0], "reason": self.expect[1]},
            "surfaces": self.surfaces,
            "note": self.note,
        }


FOLDER_SURFACES = ["verify", "read", "export"]
# Timestamped cases leave out follow (its feeds would need stamps of their own).
STAMPED_CAR_SURFACES = ["verify", "unpack", "read", "get", "export", "verifier"]
CAR_SURFACES = ["verify", "unpack", "read", "get", "follow", "export", "verifier"]
CAR_NO_FOLLOW = ["verify", "unpack", "read", "get", "export", "verifier"]
EXPORT_SURFACES = ["verify", "read", "verifier"]
RECIPE_SURFACES = ["verify", "read", "export"]
OK = (0, None)


# -- making genuine inputs ---------------------------------------------------------------


@dataclass(frozen=True)
class Spec:
    """A genuine bundle: its files, who signs it and under which identity."""

    images: bool = False
    signers: str = "A"
    identity: str | None = "plain"  # a key of identities(), or None for no identity
    version: int | None = 1  # the identity version the manifest names
    chain_versions: int | None = None  # carry only the first N versions (default all)


def make_folder(spec: Spec, out: Path, ids: dict[str, Identity]) -> None:
    chain = None
    if spec.identity is not None:
        ident = ids[spec.identity]
        if spec.chain_versions is not None:
            ident = ident.prefix(spec.chain_versions)
        chain = ident.chain
    write_folder(
        out,
        content(spec.images),
        keys=[KEYS[k] for k in spec.signers],
        chain=chain,
        version=spec.version if chain is not None else None,
        article=ARTICLE,
        capture=CAPTURE,
        created_at=CLOCK,
    )


def folder_files(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def export_of(folder: Path) -> bytes:
    files = folder_files(folder)
    images = {p: b for p, b in files.items() if p.startswith("assets/")}
    return render_export(
        files["index.html"], images, files["manifest.json"], files.get("identity.json")
    )


def resign_manifest(folder: Path, payload: bytes, keys: str = "A") -> None:
    (folder / "manifest.json").write_bytes(
        sign_envelope(MANIFEST_TYPE, payload, [KEYS[k] for k in keys])
    )


def flip(data: bytes, needle: bytes) -> bytes:
    at = data.index(needle)
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :]


# -- the case list -------------------------------------------------------------------------


def cases() -> list[Case]:
    ids = identities()
    out: list[Case] = []

    def folder_case(
        name: str,
        spec: Spec,
        expect: tuple[int, str | None],
        *,
        change: Callable[[Path], None] | None = None,
        surfaces: list[str] | None = None,
        kind: str = "folder",
        **kw: Any,
    ) -> None:
        def write(case_dir: Path) -> str:
            make_folder(spec, case_dir / "bundle", ids)
            if change is not None:
                change(case_dir / "bundle")
            return "bundle"

        out.append(Case(name, kind, expect, surfaces or FOLDER_SURFACES, write, **kw))

    def car_case(
        name: str,
        spec: Spec,
        expect: tuple[int, str | None],
        *,
        change: Callable[[Path], None] | None = None,
        car_change: Callable[[bytes], bytes] | None = None,
        surfaces: list[str] | None = None,
        **kw: Any,
    ) -> None:
        kw.setdefault("feed_identity", "plain" if spec.identity == "broken" else spec.identity)

        def write(case_dir: Path) -> str:
            work = case_dir / ".work"
            make_folder(spec, work, ids)
            if change is not None:
                change(work)
            write_car(work, case_dir / "bundle.car")
            shutil.rmtree(work)
            if car_change is not None:
                path = case_dir / "bundle.car"
                path.write_bytes(car_change(path.read_bytes()))
            return "bundle.car"

        out.append(Case(name, "car", expect, surfaces or CAR_SURFACES, write, **kw))

    def export_case(
        name: str,
        spec: Spec,
        expect: tuple[int, str | None],
        *,
        change: Callable[[bytes], bytes] | None = None,
        folder_change: Callable[[Path], None] | None = None,
        **kw: Any,
    ) -> None:
        def write(case_dir: Path) -> str:
            work = case_dir / ".work"
            make_folder(spec, work, ids)
            if folder_change is not None:
                folder_change(work)
            data = export_of(work)
            shutil.rmtree(work)
            (case_dir / "article.html").write_bytes(change(data) if change else data)
            return "article.html"

        out.append(Case(name, "export", expect, EXPORT_SURFACES, write, **kw))

    def all_three(name: str, spec: Spec, expect: tuple[int, str | None], **kw: Any) -> None:
        folder_case(f"{name}-folder", spec, expect, **kw)
        car_case(f"{name}-car", spec, expect, **kw)
        export_case(f"{name}-export", spec, expect, **kw)

    # exports of bundles without identity test one thing each on today's export format
    noid = Spec(identity=None, version=None)
    noid_images = Spec(images=True, identity=None, version=None)

    # genuine bundles
    rotated = Spec(signers="B", identity="rotated", version=2)
    threshold = Spec(signers="AC", identity="threshold", version=1)
    all_three("genuine-plain", Spec(), OK, note="identity v1 {A}, trusted A")
    all_three("genuine-images", Spec(images=True), OK, note="two 1x1 images inlined/listed")
    all_three(
        "genuine-rotated",
        rotated,
        OK,
        state=[ids["rotated"].prefix(1).state(KEYS["A"])],
        note="v1 {A} -> v2 {B}, signed by B under v2; the reader trusted A and remembers v1",
    )
    all_three(
        "genuine-threshold",
        threshold,
        OK,
        note="identity v1 {A, C, D} threshold 2, signed by A and C",
    )
    all_three(
        "genuine-noidentity",
        Spec(identity=None, version=None),
        OK,
        note="signed by A alone, no identity.json",
    )
    car_case(
        "genuine-rotated-new-reader-car",
        rotated,
        OK,
        note="v1 {A} -> v2 {B}, signed by B; the reader trusted A and remembers nothing",
    )
    export_case(
        "genuine-rotated-new-reader-export",
        rotated,
        OK,
        note="v1 {A} -> v2 {B}, signed by B; the reader trusted A and remembers nothing "
        "(hole 2: refused before)",
    )
    car_case(
        "genuine-old-bundle-after-rotation-car",
        Spec(signers="A", identity="rotated", version=1, chain_versions=1),
        OK,
        state=[ids["rotated"].state(KEYS["A"])],
        feed_identity="rotated",
        note="signed by A under v1 (carrying v1); the reader remembers v2 {B}, which rotated "
        "A out without revoking it: judged against the version it names",
    )
    car_case(
        "genuine-threshold-cosigners-car",
        Spec(signers="CD", identity="threshold", version=1),
        OK,
        note="identity {A, C, D} threshold 2 signed by C and D; the reader trusts A",
    )

    # untrusted keys
    car_case(
        "untrusted-key-car",
        Spec(signers="O", identity=None, version=None),
        (3, "untrusted-key"),
        note="signed by O, the reader trusts A",
    )
    export_case(
        "untrusted-key-export",
        Spec(signers="O", identity=None, version=None),
        (3, "untrusted-key"),
        note="signed by O, the reader trusts A",
    )

    def hint_a(folder: Path) -> None:
        env = json.loads((folder / "manifest.json").read_bytes())
        env["signatures"][0]["keyid"] = key_id(KEYS["A"])
        (folder / "manifest.json").write_bytes(canonical(env) + b"\n")

    car_case(
        "untrusted-key-hint-car",
        Spec(signers="O", identity=None, version=None),
        (3, "untrusted-key"),
        change=hint_a,
        note="signature by O whose keyid names the trusted key A",
    )
    folder_case(
        "untrusted-key-hint-folder",
        Spec(signers="O", identity=None, version=None),
        (3, "untrusted-key"),
        change=hint_a,
        note="signature by O whose keyid names the trusted key A",
    )

    # revoked key: A signs under v1 after the reader learned v2, which revokes A
    revoked = Spec(signers="A", identity="revoking", version=1, chain_versions=1)
    revoked_state = [ids["revoking"].state(KEYS["A"])]
    all_three(
        "revoked-key",
        revoked,
        (3, "revoked-key"),
        state=revoked_state,
        note="signed by A carrying only v1; the reader remembers v3 revoking A (holes 1 and 2)",
    )

    # threshold
    one_of_three = Spec(signers="A", identity="threshold", version=1)
    car_case(
        "threshold-not-met-car",
        one_of_three,
        (3, "threshold-not-met"),
        note="identity {A, C, D} threshold 2, signed by A only",
    )
    folder_case(
        "threshold-not-met-folder",
        one_of_three,
        (3, "threshold-not-met"),
        note="identity {A, C, D} threshold 2, signed by A only",
    )
    export_case(
        "threshold-not-met-export",
        one_of_three,
        (3, "threshold-not-met"),
        note="identity {A, C, D} threshold 2, signed by A only",
    )

    # identity invalid
    car_case(
        "identity-forked-car",
        rotated,
        (3, "identity-invalid"),
        state=[ids["fork"].state(KEYS["A"])],
        feed_identity="fork",
        note="the bundle carries v2; the reader remembers another v2 signed by A and B",
    )
    car_case(
        "identity-broken-previous-car",
        Spec(signers="B", identity="broken", version=2),
        (3, "identity-invalid"),
        note="v2's previous hash does not name v1",
    )
    car_case(
        "identity-version-beyond-chain-car",
        Spec(signers="B", identity="rotated", version=3),
        (3, "identity-invalid"),
        note="the manifest names version 3; identity.json ends at 2",
    )
    export_case(
        "identity-version-beyond-chain-export",
        Spec(signers="B", identity="rotated", version=3),
        (3, "identity-invalid"),
        note="the manifest names version 3; the carried chain ends at 2",
    )

    # wrong type: a feed envelope as manifest.json
    def feed_as_manifest(folder: Path) -> None:
        payload = canonical({"format": "mirror-feed/1", "version": 1, "entries": []})
        (folder / "manifest.json").write_bytes(sign_envelope(FEED_TYPE, payload, [KEYS["A"]]))

    folder_case(
        "wrong-type-folder",
        noid,
        (3, "wrong-type"),
        change=feed_as_manifest,
        note="manifest.json is a feed envelope signed by A",
    )
    car_case(
        "wrong-type-car",
        noid,
        (3, "wrong-type"),
        change=feed_as_manifest,
        note="manifest.json is a feed envelope signed by A",
    )

    # content mismatch
    def flip_page(folder: Path) -> None:
        path = folder / "index.html"
        path.write_bytes(flip(path.read_bytes(), "Текст".encode()))

    folder_case(
        "content-flipped-byte-folder",
        Spec(),
        (3, "content-mismatch"),
        change=flip_page,
        note="one byte of index.html flipped",
    )
    car_case(
        "content-flipped-byte-car",
        Spec(),
        (3, "content-mismatch"),
        change=flip_page,
        note="one byte of index.html flipped; the CAR's blocks are consistent",
    )

    def swap_image(data: bytes) -> bytes:
        old = base64.b64encode(GIF)
        new = base64.b64encode(GIF[:-2] + b"\x02\x3b")
        assert data.count(old) == 1
        return data.replace(old, new)

    export_case(
        "content-swapped-image-export",
        noid_images,
        (3, "content-mismatch"),
        change=swap_image,
        note="the inlined GIF replaced by other bytes",
    )

    def flip_in_export(data: bytes) -> bytes:
        return flip(data, "Текст".encode())

    export_case(
        "content-flipped-byte-export",
        noid,
        (3, "content-mismatch"),
        change=flip_in_export,
        note="one byte of the page text flipped",
    )

    def bad_block(data: bytes) -> bytes:
        root, blocks = read_car(data)
        page_bytes = content()["index.html"]
        target = raw_cid(page_bytes)
        assert any(c == target for c, _ in blocks)
        changed = [(c, flip(b, "Текст".encode()) if c == target else b) for c, b in blocks]
        return car_bytes(root, changed)

    car_case(
        "content-bad-block-car",
        Spec(),
        (3, "content-mismatch"),
        car_change=bad_block,
        surfaces=CAR_NO_FOLLOW,
        note="index.html's block does not hash to its CID",
    )

    # unlisted and missing files
    def add_extra(folder: Path) -> None:
        (folder / "extra.txt").write_bytes(b"not signed\n")

    folder_case(
        "unlisted-file-folder",
        Spec(),
        (3, "unlisted-file"),
        change=add_extra,
        note="extra.txt is not in the manifest",
    )
    car_case(
        "unlisted-file-car",
        Spec(),
        (3, "unlisted-file"),
        change=add_extra,
        note="extra.txt is not in the manifest",
    )

    def drop_md(folder: Path) -> None:
        (folder / "article.md").unlink()

    folder_case(
        "missing-file-folder",
        Spec(),
        (3, "missing-file"),
        change=drop_md,
        note="article.md is listed but absent",
    )
    car_case(
        "missing-file-car",
        Spec(),
        (3, "missing-file"),
        change=drop_md,
        note="article.md is listed but absent",
    )

    def point_back(data: bytes) -> bytes:
        uri = b'src="data:image/png;base64,' + base64.b64encode(PNG) + b'"'
        assert data.count(uri) == 1
        data = data.replace(uri, b'src="assets/b.png"')
        lists = b'"inlined":["assets/a.gif","assets/b.png"]'
        assert data.count(lists) == 1
        return data.replace(lists, b'"inlined":["assets/a.gif"]')

    export_case(
        "missing-image-pointed-back-export",
        noid_images,
        (3, "missing-file"),
        change=point_back,
        note="the page points at assets/b.png instead of carrying it (hole 3)",
    )

    # non-canonical encodings
    def reindent(folder: Path) -> None:
        env = json.loads((folder / "manifest.json").read_bytes())
        (folder / "manifest.json").write_bytes(json.dumps(env, indent=2).encode() + b"\n")

    folder_case(
        "noncanonical-reindented-folder",
        Spec(),
        (3, "non-canonical"),
        change=reindent,
        note="manifest.json re-indented; signature still valid",
    )
    car_case(
        "noncanonical-reindented-car",
        Spec(),
        (3, "non-canonical"),
        change=reindent,
        note="manifest.json re-indented; signature still valid",
    )

    def extra_signature(folder: Path) -> None:
        env = json.loads((folder / "manifest.json").read_bytes())
        payload = base64.b64decode(env["payload"])
        extra = json.loads(sign_envelope(MANIFEST_TYPE, payload, [KEYS["O"]]))["signatures"][0]
        env["signatures"] = sorted([*env["signatures"], extra], key=lambda s: s["keyid"])
        (folder / "manifest.json").write_bytes(canonical(env) + b"\n")

    car_case(
        "noncanonical-extra-signature-car",
        Spec(),
        (3, "non-canonical"),
        change=extra_signature,
        note="a valid extra signature by the unknown key O",
    )
    folder_case(
        "noncanonical-extra-signature-folder",
        Spec(),
        (3, "non-canonical"),
        change=extra_signature,
        note="a valid extra signature by the unknown key O",
    )

    def reorder(folder: Path) -> None:
        env = json.loads((folder / "manifest.json").read_bytes())
        assert len(env["signatures"]) == 2
        env["signatures"] = env["signatures"][::-1]
        (folder / "manifest.json").write_bytes(canonical(env) + b"\n")

    car_case(
        "noncanonical-reordered-signatures-car",
        threshold,
        (3, "non-canonical"),
        change=reorder,
        note="the 2-of-3 bundle's two signatures in reverse key-id order",
    )

    def rechunk(data: bytes) -> bytes:
        root, blocks = read_car(data)
        page_bytes = content()["index.html"]
        old = raw_cid(page_bytes)
        half = len(page_bytes) // 2
        leaves = [(raw_cid(p), p) for p in (page_bytes[:half], page_bytes[half:])]
        node = file_block([(c, len(b)) for c, b in leaves])
        node_cid = dag_pb_cid(node)
        tsize = len(node) + len(page_bytes)
        return relink(root, blocks, old, node_cid, tsize, [*leaves, (node_cid, node)])

    car_case(
        "noncanonical-rechunked-car",
        Spec(),
        (3, "non-canonical"),
        car_change=rechunk,
        note="index.html as two raw leaves under a file node: same bytes, other root",
    )

    def lying_tsize(data: bytes) -> bytes:
        root, blocks = read_car(data)
        links = decode_node(dict(blocks)[root])
        new = [(n, c, t + 1000 if n == "index.html" else t) for c, n, t in links]
        block = directory_block(new)
        new_root = dag_pb_cid(block)
        return car_bytes(new_root, [(new_root, block), *[(c, b) for c, b in blocks if c != root]])

    car_case(
        "noncanonical-lying-tsize-car",
        Spec(),
        (3, "non-canonical"),
        car_change=lying_tsize,
        note="the root's link to index.html declares another Tsize: other root CID",
    )

    def crlf(data: bytes) -> bytes:
        return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")

    export_case(
        "noncanonical-crlf-export",
        noid,
        (3, "non-canonical"),
        change=crlf,
        note="line endings changed to CRLF in transit",
    )

    def rewrap(data: bytes) -> bytes:
        old = base64.b64encode(PNG)
        wrapped = b"\n".join(old[i : i + 40] for i in range(0, len(old), 40))
        assert data.count(old) == 1
        return data.replace(old, wrapped)

    export_case(
        "noncanonical-base64-wrapped-export",
        noid_images,
        (3, "non-canonical"),
        change=rewrap,
        note="an inlined image's base64 re-wrapped at 40 columns",
    )

    def reindent_in_export(data: bytes) -> bytes:
        return data.replace(b'"format":"mirror-export/1"', b'"format": "mirror-export/1"', 1)

    export_case(
        "noncanonical-data-block-export",
        noid,
        (3, "non-canonical"),
        change=reindent_in_export,
        note="a space added inside the data block's JSON",
    )

    # not a bundle
    def drop_manifest(folder: Path) -> None:
        (folder / "manifest.json").unlink()

    folder_case(
        "not-a-bundle-folder",
        Spec(),
        (3, "not-a-bundle"),
        change=drop_manifest,
        note="a folder without manifest.json",
    )
    car_case(
        "not-a-bundle-car",
        Spec(),
        (3, "not-a-bundle"),
        change=drop_manifest,
        surfaces=CAR_NO_FOLLOW,
        note="a CAR whose root has no manifest.json",
    )

    # malformed (hostile JSON under a valid signature, a tst field)
    def duplicate_keys(folder: Path) -> None:
        payload = envelope_payload((folder / "manifest.json").read_bytes())
        assert payload.startswith(b'{"article":')
        resign_manifest(folder, b'{"article":{},' + payload[1:])

    def nan(folder: Path) -> None:
        payload = envelope_payload((folder / "manifest.json").read_bytes())
        resign_manifest(folder, payload[:-1] + b',"zz":NaN}')

    def tst(folder: Path) -> None:
        env = json.loads((folder / "manifest.json").read_bytes())
        env["signatures"][0]["tst"] = base64.b64encode(b"\x30\x03\x02\x01\x00").decode()
        (folder / "manifest.json").write_bytes(canonical(env) + b"\n")

    car_case(
        "malformed-duplicate-keys-car",
        noid,
        (2, "malformed"),
        change=duplicate_keys,
        note="the signed payload holds the key 'article' twice",
    )
    folder_case(
        "malformed-duplicate-keys-folder",
        noid,
        (2, "malformed"),
        change=duplicate_keys,
        note="the signed payload holds the key 'article' twice",
    )
    car_case(
        "malformed-nan-car", noid, (2, "malformed"), change=nan, note="the signed payload holds NaN"
    )
    car_case(
        "timestamp-garbage-car",
        Spec(),
        (3, "bad-timestamp"),
        change=tst,
        surfaces=STAMPED_CAR_SURFACES,
        note="a tst field on the signature that is no timestamp token: never ignored",
    )
    out.extend(stamped_cases())

    # limits
    def extra_directories(levels: int, names: list[str]) -> Callable[[bytes], bytes]:
        """The CAR with an extra directory linked from its root: ``levels`` nested
        directories, each linking every name to the one below, down to one leaf."""

        def change(data: bytes) -> bytes:
            root, blocks = read_car(data)
            leaf = b"x"
            cur, extra = raw_cid(leaf), [(raw_cid(leaf), leaf)]
            for _ in range(levels):
                block = directory_block([(name, cur, 1) for name in names])
                cur = dag_pb_cid(block)
                extra.append((cur, block))
            return add_root_link(root, blocks, "zz", cur, 1, extra)

        return change

    car_case(
        "limit-amplification-car",
        Spec(),
        (5, "limit"),
        car_change=extra_directories(5, [f"n{i:02d}" for i in range(64)]),  # 64**5 paths
        surfaces=CAR_NO_FOLLOW,
        note="an extra directory of 5 levels x 64 links to one shared child (64**5 paths)",
    )
    car_case(
        "limit-deep-car",
        Spec(),
        (5, "limit"),
        car_change=extra_directories(1100, ["d"]),  # deeper than any walk allows
        surfaces=CAR_NO_FOLLOW,
        note="an extra chain of 1100 nested directories",
    )

    # hole 5: an export listing an uncarried file with a huge declared size
    def huge_listed(folder: Path) -> None:
        payload = json.loads(envelope_payload((folder / "manifest.json").read_bytes()))
        fake = hashlib.sha256(b"one tebibyte, never carried").digest()
        cid = dag_pb_cid_of_digest(fake).encode()
        payload["files"].append(
            {
                "path": "source/page.raw",
                "size": 1 << 40,
                "sha256": "sha256:" + fake.hex(),
                "cid": cid,
            }
        )
        payload["files"].sort(key=lambda f: f["path"])
        resign_manifest(folder, canonical(payload))

    export_case(
        "genuine-huge-uncarried-export",
        noid,
        OK,
        folder_change=huge_listed,
        note="signed by A, lists a 1 TiB source/page.raw it does not carry: exit 0, "
        "quickly (hole 5)",
    )

    # feed verdicts: a genuine bundle listed by a feed that must be refused
    car_case(
        "rollback-feed-car",
        Spec(),
        (3, "rollback"),
        surfaces=["follow"],
        feeds={"versions": [2, 1]},
        note="the reader follows feed version 2, then is offered version 1",
    )
    car_case(
        "expired-feed-car",
        Spec(),
        (3, "expired"),
        surfaces=["follow"],
        feeds={"versions": [1], "expires": "2026-01-01T00:00:00Z"},
        note="the feed listing the bundle expired before the reader followed it",
    )

    # recipes: tests/corpus builds them from the genuine folder in bundle/
    for name, expect, note in (
        (
            "sparse-unlisted-1tib",
            (3, "unlisted-file"),
            "an unlisted sparse 1 TiB file: refused in well under a second (hole 4)",
        ),
        ("fifo-listed", (3, "content-mismatch"), "index.html replaced by a FIFO: never blocks"),
        ("symlink-listed", (3, "content-mismatch"), "index.html replaced by a symlink to a copy"),
        ("symlink-unlisted", (3, "unlisted-file"), "an unlisted symlink to index.html"),
    ):
        folder_case(
            f"recipe-{name}",
            Spec(),
            expect,
            surfaces=RECIPE_SURFACES,
            kind="recipe",
            note=note,
            recipe=name,
        )
    return out


def stamped_cases() -> list[Case]:
    """Issue 12's scenario and case 39, judged by a reader who trusts A and remembers
    the stamped identity (v2 requires timestamps and lists the corpus TSA's root)."""
    ident = stamped_identity()
    state = [ident.state(KEYS["A"])]
    made: list[Case] = []

    def case(
        name: str,
        expect: tuple[int, str | None],
        note: str,
        *,
        title: str,
        signers: str = "A",
        version: int = 1,
        label: str | None,
        tsa: str = CORPUS_TSA,
        change: Callable[[Path], None] | None = None,
        kind: str = "folder",
    ) -> None:
        def write(case_dir: Path) -> str:
            folder = case_dir / ("bundle" if kind == "folder" else ".work")
            files = {"index.html": page(title), "article.md": f"# {title}\n".encode()}
            write_folder(
                folder,
                files,
                keys=[KEYS[k] for k in signers],
                chain=ident.prefix(version).chain,
                version=version,
                article={**ARTICLE, "title": title},
                capture=CAPTURE,
                created_at=CLOCK,
            )
            manifest = folder / "manifest.json"
            if label is not None:
                manifest.write_bytes(stamp_signatures(manifest.read_bytes(), label, tsa))
            if change is not None:
                change(folder)
            if kind == "folder":
                return "bundle"
            write_car(folder, case_dir / "bundle.car")
            shutil.rmtree(folder)
            return "bundle.car"

        surfaces = FOLDER_SURFACES if kind == "folder" else STAMPED_CAR_SURFACES
        made.append(Case(name, kind, expect, surfaces, write, state=state, note=note))

    def flip_token(folder: Path) -> None:
        env = json.loads((folder / "manifest.json").read_bytes())
        token = base64.b64decode(env["signatures"][0]["tst"])
        at = len(token) - 10  # inside the TSA's signature value
        env["signatures"][0]["tst"] = base64.b64encode(
            token[:at] + bytes([token[at] ^ 0x01]) + token[at + 1 :]
        ).decode()
        (folder / "manifest.json").write_bytes(canonical(env) + b"\n")

    before = "A, before the rotation"
    case(
        "timestamp-before-rotation-folder",
        OK,
        "A alone under v1, stamped before v2 (which requires timestamps) existed: still valid",
        title=before,
        label="1-before",
    )
    case(
        "timestamp-before-rotation-car",
        OK,
        "the same as a CAR",
        title=before,
        label="1-before",
        kind="car",
    )
    case(
        "timestamp-after-rotation-folder",
        (3, "signed-after-rotation"),
        "A alone names v1 with a fresh stamp, after v2 required timestamps",
        title="A, after the rotation",
        label="3-after",
    )
    case(
        "timestamp-after-rotation-car",
        (3, "signed-after-rotation"),
        "the same as a CAR",
        title="A, after the rotation",
        label="3-after",
        kind="car",
    )
    case(
        "timestamp-missing-after-rotation-folder",
        (3, "signed-after-rotation"),
        "A alone names v1 with no stamp, once v2 requires timestamps",
        title="A, unstamped",
        label=None,
    )
    case(
        "timestamp-altered-token-folder",
        (3, "bad-timestamp"),
        "the stamp of the bundle made before the rotation, one byte of the TSA's signature flipped",
        title=before,
        label="1-before",
        change=flip_token,
    )
    case(
        "timestamp-untrusted-tsa-folder",
        (3, "untrusted-tsa"),
        "stamped by a TSA neither the reader nor the identity trusts",
        title="A, stranger",
        label="5-stranger",
        tsa=STRANGER_TSA,
    )
    case(
        "timestamp-current-folder",
        OK,
        "A and B under v2, stamped",
        title="A and B",
        signers="AB",
        version=2,
        label="4-current",
    )
    return made


def relink(
    root: CID,
    blocks: list[tuple[CID, bytes]],
    old: CID,
    new: CID,
    tsize: int,
    added: list[tuple[CID, bytes]],
) -> bytes:
    """Replace the root directory's link to `old` by `new`; a new root."""
    links = decode_node(dict(blocks)[root])
    assert any(c == old for c, _, _ in links)
    block = directory_block([(n, new, tsize) if c == old else (n, c, t) for c, n, t in links])
    new_root = dag_pb_cid(block)
    rest = [(c, b) for c, b in blocks if c not in (root, old)]
    return car_bytes(new_root, [(new_root, block), *rest, *added])


def add_root_link(
    root: CID,
    blocks: list[tuple[CID, bytes]],
    name: str,
    cid: CID,
    tsize: int,
    added: list[tuple[CID, bytes]],
) -> bytes:
    links = [(n, c, t) for c, n, t in decode_node(dict(blocks)[root])]
    links.append((name, cid, tsize))
    links.sort(key=lambda link: link[0].encode())
    block = directory_block(links)
    new_root = dag_pb_cid(block)
    rest = [(c, b) for c, b in blocks if c != root]
    return car_bytes(new_root, [(new_root, block), *rest, *added])


FEED_SIGNERS = {"plain": "A", "rotated": "B", "revoking": "B", "fork": "B", "threshold": "AC"}


def feed_publisher(case_name: str) -> tuple[bytes | None, list[SigningKey]]:
    """For tests that put a case's CAR in a feed: the identity chain (identity.json bytes,
    or None) and the keys with which the case's trusted publisher signs its feed."""
    case = next(c for c in cases() if c.name == case_name)
    if case.feed_identity is None:
        return None, [KEYS["A"]]
    chain = identities()[case.feed_identity].chain
    return chain, [KEYS[k] for k in FEED_SIGNERS[case.feed_identity]]


def feed_files(
    case_name: str, car_path: Path, versions: Sequence[int] = (1,), expires: str = EXPIRES
) -> dict[int, bytes]:
    """Signed feed files (by version) of the case's publisher listing the root of the CAR
    at `car_path`, each naming the one before as previous."""
    chain, keys = feed_publisher(case_name)
    root, blocks = read_car(car_path.read_bytes())
    links = {n: c for c, n, _ in decode_node(dict(blocks)[root])}
    manifest = dict(blocks).get(links.get("manifest.json"), b"")  # type: ignore[arg-type]
    entry = {
        "root_cid": root.encode(),
        "url": ARTICLE["canonical_url"],
        "title": ARTICLE["title"],
        "published": None,
        "captured_at": CLOCK,
        "manifest_sha256": "sha256:" + hashlib.sha256(manifest).hexdigest(),
        "size": car_dag_size(car_path, root),
    }
    files: dict[int, bytes] = {}
    for version in range(1, max(versions) + 1):
        files[version] = signed_feed(
            keys,
            version=version,
            previous=files.get(version - 1),
            created_at=CLOCK,
            expires=expires,
            entry=entry,
            chain=chain,
        )
    return files


def write_feeds(case: Case, case_dir: Path) -> list[str]:
    """The case's feed files; their names in the order the reader follows them (the
    case's expectation is for the last)."""
    assert case.feeds is not None
    versions = case.feeds["versions"]
    files = feed_files(
        case.name, case_dir / "bundle.car", versions, case.feeds.get("expires", EXPIRES)
    )
    (case_dir / "feeds").mkdir()
    names = []
    for version in versions:
        name = f"feeds/feed-v{version}.json"
        (case_dir / name).write_bytes(files[version])
        names.append(name)
    return names


README = """\
# The verdict corpus

Made by `manifests/make_vectors.py` (see `manifests/verdict_cases.py`); do not edit by
hand: regenerate, and `make_vectors.py --check` (run by the tests) compares it byte for
byte. One folder per case: its input and `case.json`:

- `kind`: `folder` | `car` | `export` | `recipe`; `input`: `bundle/`, `bundle.car` or
  `article.html` in the case folder; for a recipe, the recipe name (the test builds
  the input from the genuine bundle folder in `bundle/`: a sparse 1 TiB unlisted file,
  a FIFO or a symlink in place of a listed file, an unlisted symlink).
- `trust`: the reader's trusted keys (`mirror trust add NAME KEY`); `state`: the
  identity chains the reader remembers, per trusted anchor key; `now`: the time the
  case is judged at (bundle verdicts do not depend on it; feeds expire).
- `expect`: `{exit_code, reason}` on every surface in `surfaces` (verify, unpack,
  read, get, follow, export, verifier).
- `feeds` (feed verdicts only): signed feed files listing the CAR, followed in this
  order; `expect` is the verdict on the last one.
- `note`: what the case is, for people.

Keys come from public seeds: sha256("mirror verdict corpus: " + label) for labels
A, B, C, D, O; they sign test vectors only.

The `timestamp-*` cases carry RFC 3161 tokens (`tst`) from real OpenSSL TSAs: a fixed
clock cannot make them, so they were made once by `manifests/mint_timestamps.py` and
are kept in `manifests/timestamps/material.json` (the TSA roots and one token per
stamped signature). Their reader remembers the stamped identity (v1 {A}; v2 {A, B, C}
2-of-3, requiring timestamps and listing the `corpus-tsa` root); the `stranger-tsa`
root is trusted by nobody. So no case needs TSA roots of the reader's own: `trust`
holds keys only, on every surface, the verifier page's included.
"""


def build(out: Path) -> list[str]:
    """Write every case under `out` (a fresh directory); returns the case names."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "README.md").write_text(README, encoding="utf-8")
    names = []
    for case in cases():
        case_dir = out / case.name
        case_dir.mkdir(parents=True)
        doc = case.to_dict()
        written = case.write(case_dir)
        doc["input"] = case.recipe or written
        if case.feeds is not None:
            doc["feeds"] = write_feeds(case, case_dir)
        if not doc["note"]:
            del doc["note"]
        (case_dir / "case.json").write_text(
            json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
        names.append(case.name)
    assert len(set(names)) == len(names)
    return names
