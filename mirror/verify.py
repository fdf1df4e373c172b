"""The trust core: the reader's verdict over a bundle, from bytes and what the reader trusts.

Every surface (verify, unpack, read, get, follow, export, verify --all) reaches its
verdict here, through `check_folder`, `check_car` or `check_export`, each taking a
`Trust`: the reader's trusted keys, the identity chains the reader remembers and the
verification time. Nothing here writes: a verdict says what should be remembered
(`Verdict.remember`) and the reader layer (reader.py) persists it, only on success.
The model is python-tuf's: `TrustedMetadataSet` checks, `Updater` persists.

A verdict covers the publisher's signature (by a threshold of keys the reader trusts,
directly or through the publisher's identity chain, revoked keys never counting), the
envelope exactly as mirror writes it, each listed file's size, sha256 and CID, the
absence of unlisted files, and the bundle root CID rebuilt from the signed file list.
Work is bounded by what the publisher signed: names and sizes are compared before any
byte is hashed. Nothing is read from an unverified manifest before its signature holds.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from . import envelope, export_format
from .canonjson import HostileJSON
from .envelope import Envelope
from .errors import LimitExceeded, MalformedInput, UsageError, VerificationError
from .identity import CHAIN_NAME, MAX_CHAIN, Chain, anchored_by, merge, parse_chain, verify_chain
from .ipld import car, dagpb, unixfs
from .ipld.cid import CID, DAG_PB, RAW, SHA2_256
from .keys import PublicKey, TrustedKey
from .manifest import MANIFEST_NAME, MAX_MANIFEST, Manifest


@dataclass(frozen=True, slots=True)
class Trust:
    """What a reader brings to a verdict. Every field is required: a surface cannot
    forget the remembered identity state, because it cannot build a Trust without it."""

    keys: tuple[TrustedKey, ...]
    remembered: Mapping[PublicKey, Chain]  # anchor key -> longest chain remembered
    own: Chain | None  # the identity of this data directory, when it publishes
    now: datetime


@dataclass(frozen=True, slots=True)
class Remember:
    """What a successful verdict teaches the reader: a longer chain for an anchor."""

    anchor: PublicKey
    chain: Chain


@dataclass(frozen=True, slots=True)
class Verdict:
    root_cid: str
    publisher: str  # the trusted name that signed
    key_id: str
    manifest: Manifest
    files_checked: int
    source: str  # "folder", "car" or "single-file"
    manifest_json: bytes = field(repr=False)
    remember: Remember | None = None

    @property
    def identity_version(self) -> int | None:
        return self.manifest.publisher.identity_version

    def to_dict(self) -> dict[str, Any]:
        article = self.manifest.article
        return {
            "ok": True,
            "reason": None,
            "root_cid": self.root_cid,
            "publisher": self.publisher,
            "key_id": self.key_id,
            "title": self.manifest.title,
            "byline": article.byline_text,
            "url": self.manifest.url,
            "captured_at": self.manifest.captured_at,
            "published": article.published,
            "language": article.language,
            "site_name": article.site_name,
            "files_checked": self.files_checked,
            "source": self.source,
            "identity_version": self.identity_version,
        }


# -- the signed manifest -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Judged:
    manifest: Manifest
    signer: TrustedKey
    remember: Remember | None


def _non_canonical(message: str) -> VerificationError:
    return VerificationError(message, reason="non-canonical")


def parse_envelope(data: bytes) -> Envelope:
    """manifest.json as an envelope. Hostile JSON and a reserved field used before its
    time are malformed input (exit 2); any other damage means the bytes are not what
    the publisher wrote (exit 3)."""
    try:
        env = Envelope.from_bytes(data, max_size=MAX_MANIFEST, what="manifest.json")
    except (HostileJSON, LimitExceeded):
        raise
    except UsageError as exc:
        raise VerificationError(f"manifest.json is damaged: {exc.message}") from exc
    if any(s.tst is not None for s in env.signatures):
        # Reserved for RFC 3161 timestamps; refused until they are checked.
        raise MalformedInput("manifest.json carries a timestamp token, which is not supported")
    return env


def _chain_sources(chain_data: bytes | None, trust: Trust) -> dict[PublicKey, list[Chain]]:
    """Per trusted anchor, every chain that speaks for it: the bundle's identity.json,
    the remembered chain, and this data directory's own identity."""
    sources: dict[PublicKey, list[Chain]] = {}
    if chain_data is not None:
        try:
            envs = parse_chain(chain_data)
        except (HostileJSON, LimitExceeded):
            raise
        bundled = verify_chain(envs, [t.key for t in trust.keys])
        for t in trust.keys:
            if anchored_by(bundled, t.key):
                sources.setdefault(t.key, []).append(bundled)
    for t in trust.keys:
        known = trust.remembered.get(t.key)
        if known is not None:
            sources.setdefault(t.key, []).append(known)
        if trust.own is not None and anchored_by(trust.own, t.key):
            sources.setdefault(t.key, []).append(trust.own)
    return sources


def _judge_under_chain(
    env: Envelope, chain: Chain, anchor: TrustedKey
) -> tuple[Manifest, TrustedKey, envelope.Verified]:
    """A manifest is valid when a threshold of the keys of the identity version it names
    signed it, or a threshold of the newest version's keys did; revoked keys never
    count. Returns the manifest, the signer to name, and the signature check."""
    pool = [TrustedKey(anchor.name, k, "") for k in chain.all_keys()]
    verified = envelope.verify(
        env, envelope.MANIFEST_TYPE, pool, what=f"manifest (identity {chain.name!r})"
    )
    manifest = _parse_manifest(verified.payload)
    signed = {t.key for t in verified.signers}
    revoked = chain.revoked
    good = signed - revoked
    current = chain.current
    named = manifest.publisher.identity_version
    if named is None:
        # A manifest made before the identity: the trusted key itself, unless revoked.
        base_keys: tuple[PublicKey, ...] = (anchor.key,)
        base_ok, base_threshold = anchor.key in good, 1
        label = "the trusted key"
    else:
        if named > len(chain.links):
            raise VerificationError(
                f"manifest names identity {chain.name!r} version {named}, but only versions "
                f"up to {current.version} are known (missing or short {CHAIN_NAME})",
                reason="identity-invalid",
            )
        version = chain.version(named)
        base_keys, base_threshold = version.keys, version.threshold
        base_ok = len(good & set(base_keys)) >= base_threshold
        label = f"version {named}"
    if base_ok:
        signer = next(k for k in base_keys if k in good)
    elif len(good & set(current.keys)) >= current.threshold:
        signer = next(k for k in current.keys if k in good)
    else:
        bad = sorted(signed & revoked, key=lambda k: k.key_id)
        if bad:
            raise VerificationError(
                f"manifest is signed by key {bad[0].key_id}, revoked in identity {chain.name!r} "
                f"version {chain.revoked_in(bad[0])}, and not re-signed by current keys "
                "(see `mirror identity resign`)",
                reason="revoked-key",
            )
        count = len(good & set(base_keys))
        raise VerificationError(
            f"manifest: {count} valid signature(s) by keys of identity {chain.name!r} "
            f"{label}, {base_threshold} required",
            reason="threshold-not-met" if count else "untrusted-key",
        )
    return manifest, TrustedKey(anchor.name, signer, anchor.added), verified


def _parse_manifest(payload: bytes) -> Manifest:
    try:
        return Manifest.from_bytes(payload)
    except (HostileJSON, LimitExceeded):
        raise
    except UsageError as exc:  # signed, yet not a manifest we can read
        raise MalformedInput(f"manifest: {exc.message}") from exc


def _check_encoding(env: Envelope, verified: envelope.Verified, data: bytes) -> None:
    """Only the publisher's own encoding passes: every signature valid under a key the
    verdict knows (each key once), in mirror's order, and the bytes as mirror writes
    them. An extra, duplicated or reordered signature or a re-serialized envelope
    would name a bundle (a root CID) the publisher never made. `verified` already
    tried every signature against every known key, so nothing is verified twice."""
    if verified.unmatched:
        raise _non_canonical(
            "manifest.json carries a signature that no key of the publisher made, or two "
            "by one key: not the publisher's envelope"
        )
    if not env.is_canonical(data):
        raise _non_canonical(
            "manifest.json is not byte for byte as the publisher's tool wrote it "
            "(re-serialized, re-indented or signatures reordered)"
        )


def judge_manifest(data: bytes, chain_data: bytes | None, trust: Trust) -> Judged:
    """Signature first, then parse exactly the verified payload bytes.

    A bundle carrying identity.json, or from a publisher whose identity this reader
    remembers, is judged under that identity (thresholds, rotations, revocations);
    otherwise a single trusted key must have signed.
    """
    env = parse_envelope(data)
    sources = _chain_sources(chain_data, trust)
    if not sources:
        verified = envelope.verify(env, envelope.MANIFEST_TYPE, trust.keys, what="manifest")
        manifest = _parse_manifest(verified.payload)
        _check_encoding(env, verified, data)
        return Judged(manifest, verified.signers[0], None)
    first_error: VerificationError | None = None
    for anchor_key, chains in sources.items():
        anchor = next(t for t in trust.keys if t.key == anchor_key)
        try:
            known = merge(chains)
            manifest, signer, verified = _judge_under_chain(env, known, anchor)
        except VerificationError as exc:
            first_error = first_error or exc
            continue
        _check_encoding(env, verified, data)
        remembered = trust.remembered.get(anchor_key)
        grows = remembered is None or len(known.links) > len(remembered.links)
        return Judged(manifest, signer, Remember(anchor_key, known) if grows else None)
    assert first_error is not None
    raise first_error


# -- comparing what a carrier holds with what was signed ---------------------------------


def _compare_listing(manifest: Manifest, found: Mapping[str, int | None]) -> None:
    """Names and sizes before any hashing. `found` maps each path a carrier holds to its
    size, or None when it is not a regular file (a symlink, FIFO or device)."""
    listed = {f.path: f for f in manifest.files}
    for path in sorted(found):
        if path not in listed and path != MANIFEST_NAME:
            raise VerificationError(
                f"bundle holds a file its manifest does not list: {path}", reason="unlisted-file"
            )
    for path, record in sorted(listed.items()):
        if path not in found:
            raise VerificationError(
                f"file listed in the manifest is missing: {path}", reason="missing-file"
            )
        size = found[path]
        if size is None:
            raise VerificationError(f"{path} is not a regular file")
        if size != record.size:
            raise VerificationError(f"{path}: size {size} differs from the signed {record.size}")


def _compare_facts(manifest: Manifest, path: str, sha: str, cid: CID) -> None:
    record = manifest.file(path)
    assert record is not None  # the listing was compared first
    if sha != record.sha256:
        raise VerificationError(f"{path}: content differs from what the publisher signed")
    if cid != CID.decode(record.cid):
        raise _non_canonical(
            f"{path}: the bytes are the signed ones but stored under another CID "
            "(re-chunked): not the publisher's encoding"
        )


def _regular_bytes(path: Path, limit: int, what: str) -> bytes:
    """A small regular file's bytes; never follows a link, never blocks on a FIFO."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise VerificationError(f"{what} is not a regular file") from exc
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise VerificationError(f"{what} is not a regular file")
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise LimitExceeded(f"{what} is larger than {limit} bytes")
    return data


def _listing(root: Path) -> dict[str, int | None]:
    """Every non-hidden path under `root` with its size (None: not a regular file),
    from lstat alone: nothing is opened or hashed."""
    found: dict[str, int | None] = {}
    stack = [(root, "")]
    while stack:
        directory, prefix = stack.pop()
        try:
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except OSError as exc:
            raise VerificationError(f"cannot list {directory}: {exc.strerror}") from exc
        for entry in entries:
            if entry.name.startswith("."):  # not part of the bundle's CID (unixfs profile)
                continue
            rel = prefix + entry.name
            st = entry.stat(follow_symlinks=False)
            if stat.S_ISDIR(st.st_mode):
                stack.append((Path(entry.path), rel + "/"))
            elif stat.S_ISREG(st.st_mode):
                found[rel] = st.st_size
            else:
                found[rel] = None
            if len(found) > 100_000:
                raise LimitExceeded("the folder holds more than 100000 files")
    return found


# -- the three carriers ------------------------------------------------------------------


def _verdict(root: CID, judged: Judged, checked: int, source: str, manifest_json: bytes) -> Verdict:
    return Verdict(
        root.encode(),
        judged.signer.name,
        judged.signer.key.key_id,
        judged.manifest,
        checked,
        source,
        manifest_json,
        judged.remember,
    )


def _not_a_bundle(where: object) -> VerificationError:
    return VerificationError(
        f"{where} has no manifest.json: not a signed bundle", reason="not-a-bundle"
    )


def check_folder(path: Path, trust: Trust) -> Verdict:
    """A bundle folder: names and sizes from lstat first, then the signed files hashed."""
    return _folder(Path(path), lambda data, chain: judge_manifest(data, chain, trust))


def check_own_folder(path: Path, keys: Sequence[TrustedKey]) -> Verdict:
    """For `identity resign` only: a folder intact and signed by any of `keys` (every key
    the publisher's identity ever had, revoked ones included: rescuing bundles signed
    by a revoked key is the point). Not a reader's verdict."""

    def judge(data: bytes, _chain: bytes | None) -> Judged:
        env = parse_envelope(data)
        verified = envelope.verify(env, envelope.MANIFEST_TYPE, keys, what="manifest")
        return Judged(_parse_manifest(verified.payload), verified.signers[0], None)

    return _folder(Path(path), judge)


def _folder(path: Path, judge: Callable[[bytes, bytes | None], Judged]) -> Verdict:
    found = _listing(path)
    if MANIFEST_NAME not in found:
        raise _not_a_bundle(path)
    manifest_json = _regular_bytes(path / MANIFEST_NAME, MAX_MANIFEST, MANIFEST_NAME)
    chain = (
        _regular_bytes(path / CHAIN_NAME, MAX_CHAIN, CHAIN_NAME)
        if found.get(CHAIN_NAME) is not None
        else None
    )
    judged = judge(manifest_json, chain)
    manifest = judged.manifest
    _compare_listing(manifest, found)
    added = unixfs.add_path(path)  # bounded now: only the signed files, at signed sizes
    for rel, entry in sorted(added.files.items()):
        if rel != MANIFEST_NAME:
            _compare_facts(manifest, rel, f"sha256:{entry.sha256}", entry.cid)
    return _verdict(added.root, judged, len(manifest.files), "folder", manifest_json)


def _file_sha256(entry: unixfs.Entry) -> str:
    """sha256 of a file in a verified block store. A single-block file is its raw leaf,
    whose CID digest is the file's sha256 and was checked when the CAR was read."""
    if entry.cid.codec == RAW and entry.cid.hash_code == SHA2_256:
        return f"sha256:{entry.cid.digest.hex()}"
    digest = hashlib.sha256()
    for chunk in entry.chunks():
        digest.update(chunk)
    return f"sha256:{digest.hexdigest()}"


def _small_file(entry: unixfs.Entry | None, limit: int, what: str) -> bytes | None:
    if entry is None:
        return None
    if entry.size > limit:
        raise LimitExceeded(f"{what} is larger than {limit} bytes")
    return b"".join(entry.chunks())


def check_car(path: Path, trust: Trust, root: CID | None = None) -> Verdict:
    """A bundle CAR: every block hashed against its CID as it is read (car.py), the
    listing compared from the directory nodes, then the files' digests, then the root
    rebuilt from the signed list must be the CAR's root (the publisher's encoding)."""
    with car.open_car(Path(path), root=root) as store:
        if root is None:
            if len(store.roots) != 1:
                raise UsageError(f"{path} names {len(store.roots)} roots; give the CID to verify")
            root = store.roots[0]
        files = {e.path: e for e in unixfs.walk(store, root) if e.kind == "file"}
        manifest_json = _small_file(files.get(MANIFEST_NAME), MAX_MANIFEST, MANIFEST_NAME)
        if manifest_json is None:
            raise _not_a_bundle(root.encode())
        chain = _small_file(files.get(CHAIN_NAME), MAX_CHAIN, CHAIN_NAME)
        judged = judge_manifest(manifest_json, chain, trust)
        manifest = judged.manifest
        _compare_listing(manifest, {p: e.size for p, e in files.items()})
        for rel, entry in sorted(files.items()):
            if rel != MANIFEST_NAME:
                _compare_facts(manifest, rel, _file_sha256(entry), entry.cid)
    if export_format.bundle_root(manifest, manifest_json) != root:
        raise _non_canonical(
            f"{root.encode()}: the signed files are there, but the DAG is not the one the "
            "publisher's tool builds (other block layout or link sizes): not the "
            "publisher's bundle"
        )
    return _verdict(root, judged, len(manifest.files), "car", manifest_json)


def _check_part(manifest: Manifest, path: str, data: bytes) -> None:
    record = manifest.file(path)
    if record is None:
        raise VerificationError(
            f"{path} is not listed in the signed manifest", reason="unlisted-file"
        )
    if len(data) != record.size or f"sha256:{hashlib.sha256(data).hexdigest()}" != record.sha256:
        raise VerificationError(f"{path}: content differs from what the publisher signed")
    if unixfs.file_cid(data) != CID.decode(record.cid):
        raise VerificationError(f"{path}: CID differs from what the publisher signed")


def check_export(data: bytes, trust: Trust) -> Verdict:
    """A single-file export: take it apart, judge the manifest under the identity it
    carries, check every carried part, require every signed image the page loads to be
    carried, render again and require byte equality, rebuild the root."""
    parts = export_format.take_apart(data)
    judged = judge_manifest(parts.manifest_json, parts.chain_json, trust)
    manifest = judged.manifest
    carried = {export_format.PAGE: parts.page, **parts.images}
    if parts.chain_json is not None:
        carried[CHAIN_NAME] = parts.chain_json
    elif manifest.file(CHAIN_NAME) is not None:
        raise VerificationError(
            f"the export leaves out the signed {CHAIN_NAME}", reason="missing-file"
        )
    for path, raw in sorted(carried.items()):
        _check_part(manifest, path, raw)
    page = parts.page.decode("utf-8")
    for path in export_format.referenced_images(page):
        if manifest.file(path) is not None and path not in parts.images:
            raise VerificationError(
                f"the export points at the signed image {path} instead of carrying it",
                reason="missing-file",
            )
    try:
        again = export_format.render(
            parts.page, parts.images, parts.manifest_json, parts.chain_json
        )
    except UsageError as exc:
        raise _non_canonical(f"the signed page cannot be exported: {exc.message}") from exc
    if again != data:
        raise _non_canonical(
            "the file's bytes differ from the publisher's export although its parts "
            "verify: it was re-encoded or edited in transit (whitespace, line endings "
            "or base64 wrapping); ask for the original file"
        )
    root = export_format.bundle_root(manifest, parts.manifest_json)
    return _verdict(root, judged, len(carried), "single-file", parts.manifest_json)


# -- facts about a verified bundle CAR ---------------------------------------------------


def manifest_sha256(verdict: Verdict) -> str:
    """'sha256:<hex>' of the verified manifest.json envelope bytes (what feeds list)."""
    return f"sha256:{hashlib.sha256(verdict.manifest_json).hexdigest()}"


def dag_size(car_path: Path, root: CID) -> int:
    """Cumulative DAG size of a UnixFS root (its block plus every link's Tsize)."""
    with car.open_car(car_path, root=root) as blocks:
        block = blocks.get(root)
    if root.codec != DAG_PB:
        return len(block)
    return len(block) + sum(link.tsize or 0 for link in dagpb.decode(block).links)
