"""The reader's verdict: every byte of a bundle checked against a trusted key.

A verdict covers the publisher's signature (by a key the reader trusts, over the
manifest payload type), each listed file's size, sha256 and CID, the absence of
unlisted files, and the bundle root CID recomputed locally (from the folder's bytes,
or by checking every CAR block's hash from the root down). Nothing is read from an
unverified manifest before its signature holds.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import envelope, identity
from .canonjson import HostileJSON
from .config import Home
from .errors import UsageError, VerificationError
from .ipld import car, unixfs
from .ipld.cid import CID, RAW, SHA2_256
from .keys import TrustedKey
from .manifest import MANIFEST_NAME, MAX_MANIFEST, Manifest
from .store import read_bytes


@dataclass(frozen=True, slots=True)
class Verdict:
    root_cid: str
    publisher: str  # the trusted name that signed
    key_id: str
    manifest: Manifest
    files_checked: int
    source: str  # "folder" | "car" | ...

    def to_dict(self) -> dict[str, Any]:
        article = self.manifest.article
        return {
            "ok": True,
            "root_cid": self.root_cid,
            "publisher": self.publisher,
            "key_id": self.key_id,
            "title": self.manifest.title,
            "byline": str(article.get("byline") or ", ".join(article.get("authors") or [])),
            "url": self.manifest.url,
            "captured_at": self.manifest.captured_at,
            "published": article.get("published"),
            "language": article.get("language"),
            "site_name": article.get("site_name"),
            "files_checked": self.files_checked,
            "source": self.source,
        }


def check_manifest(
    data: bytes,
    trusted: Sequence[TrustedKey],
    threshold: int = 1,
    *,
    chain: bytes | None = None,
    home: Home | None = None,
) -> tuple[Manifest, TrustedKey]:
    """Signature first, then parse exactly the verified payload bytes.

    Hostile JSON is malformed input (exit 2); any other damage to a bundle's signed
    manifest.json means it is not what the publisher wrote (exit 3). `chain` is the
    bundle's identity.json; `home` holds the identity chains this reader remembers.
    """
    try:
        env = envelope.Envelope.from_bytes(data, max_size=MAX_MANIFEST, what="manifest.json")
    except HostileJSON:
        raise
    except UsageError as exc:
        raise VerificationError(f"manifest.json is damaged: {exc.message}") from exc
    # A bundle carrying identity.json, or from a publisher whose identity this reader
    # remembers, is judged under that identity (thresholds, rotations, revocations).
    judged = identity.check_manifest(env, trusted, chain_data=chain, home=home)
    if judged is not None:
        return judged
    verified = envelope.verify(
        env, envelope.MANIFEST_TYPE, trusted, threshold=threshold, what="manifest"
    )
    return Manifest.from_bytes(verified.payload), verified.signers[0]


def _compare(manifest: Manifest, found: dict[str, tuple[int, str, str]]) -> int:
    """found: path -> (size, sha256 'sha256:hex', cid) of every file in the bundle."""
    listed = {f.path: f for f in manifest.files}
    for path in sorted(found):
        if path not in listed:
            raise VerificationError(f"bundle holds a file its manifest does not list: {path}")
    for path, record in sorted(listed.items()):
        if path not in found:
            raise VerificationError(f"file listed in the manifest is missing: {path}")
        size, sha, cid = found[path]
        if size != record.size:
            raise VerificationError(f"{path}: size {size} differs from the signed {record.size}")
        if sha != record.sha256:
            raise VerificationError(f"{path}: content differs from what the publisher signed")
        if CID.decode(cid) != CID.decode(record.cid):
            raise VerificationError(f"{path}: CID differs from what the publisher signed")
    return len(listed)


def verify_folder(
    path: Path, trusted: Sequence[TrustedKey], threshold: int = 1, *, home: Home | None = None
) -> Verdict:
    manifest_path = path / MANIFEST_NAME
    if not manifest_path.is_file():
        raise VerificationError(f"{path} has no manifest.json: not a signed bundle")
    chain_path = path / identity.CHAIN_NAME  # publisher identity chain, when carried
    chain = (
        read_bytes(chain_path, limit=identity.MAX_CHAIN, what=identity.CHAIN_NAME)
        if chain_path.is_file() and not chain_path.is_symlink()
        else None
    )
    manifest, signer = check_manifest(
        read_bytes(manifest_path, limit=MAX_MANIFEST, what="manifest.json"),
        trusted,
        threshold,
        chain=chain,
        home=home,
    )
    added = unixfs.add_path(path)
    found = {
        rel: (e.size, f"sha256:{e.sha256}", e.cid.encode())
        for rel, e in added.files.items()
        if rel != MANIFEST_NAME
    }
    checked = _compare(manifest, found)
    return Verdict(added.root.encode(), signer.name, signer.key.key_id, manifest, checked, "folder")


def _entries(store: car.CarStore, root: CID) -> Iterator[unixfs.Entry]:
    return unixfs.walk(store, root)


def _file_facts(entry: unixfs.Entry) -> tuple[int, str, str]:
    """(size, sha256, cid) of a file in a verified block store.

    A single-block file is its raw leaf, whose CID digest is the file's sha256 and was
    checked when the CAR was read, so it is not hashed again.
    """
    if entry.cid.codec == RAW and entry.cid.hash_code == SHA2_256:
        return entry.size, f"sha256:{entry.cid.digest.hex()}", entry.cid.encode()
    digest, size = hashlib.sha256(), 0
    for chunk in entry.chunks():
        digest.update(chunk)
        size += len(chunk)
    return size, f"sha256:{digest.hexdigest()}", entry.cid.encode()


def verify_car(
    path: Path,
    trusted: Sequence[TrustedKey],
    root: CID | None = None,
    threshold: int = 1,
    *,
    home: Home | None = None,
) -> Verdict:
    with car.open_car(path, root=root) as store:
        if root is None:
            if len(store.roots) != 1:
                raise UsageError(f"{path} names {len(store.roots)} roots; give the CID to verify")
            root = store.roots[0]
        files = {e.path: e for e in _entries(store, root) if e.kind == "file"}
        manifest_entry = files.pop(MANIFEST_NAME, None)
        if manifest_entry is None:
            raise VerificationError(f"{root.encode()} has no manifest.json: not a signed bundle")
        if manifest_entry.size > MAX_MANIFEST:
            raise VerificationError("manifest.json is too large")
        chain_entry = files.get(identity.CHAIN_NAME)  # publisher identity chain, when carried
        if chain_entry is not None and chain_entry.size > identity.MAX_CHAIN:
            raise VerificationError(f"{identity.CHAIN_NAME} is too large")
        manifest, signer = check_manifest(
            b"".join(manifest_entry.chunks()),
            trusted,
            threshold,
            chain=b"".join(chain_entry.chunks()) if chain_entry is not None else None,
            home=home,
        )
        found = {rel: _file_facts(entry) for rel, entry in files.items()}
    checked = _compare(manifest, found)
    return Verdict(root.encode(), signer.name, signer.key.key_id, manifest, checked, "car")


def verify_target(
    target: Path, trusted: Sequence[TrustedKey], threshold: int = 1, *, home: Home | None = None
) -> Verdict:
    """A bundle folder, a CAR file, or a single-file export (.html)."""
    if target.is_dir():
        return verify_folder(target, trusted, threshold, home=home)
    if target.is_file() and target.suffix.lower() in (".html", ".htm"):
        from .export import verify_single_file  # a single-file export, not a CAR

        return verify_single_file(target, trusted, threshold)
    if target.is_file():
        return verify_car(target, trusted, threshold=threshold, home=home)
    raise UsageError(f"no such bundle folder or file: {target}")


def unpack_car(
    path: Path,
    dest: Path,
    trusted: Sequence[TrustedKey],
    root: CID | None = None,
    *,
    home: Home | None = None,
) -> Verdict:
    """Verify the CAR completely, then write exactly the listed files into `dest`.

    Paths were checked when the manifest was parsed (no '..', no absolute paths), and
    the folder is staged and swapped in whole, so nothing lands outside `dest` and a
    failure leaves no partial folder.
    """
    from . import store as store_mod

    verdict = verify_car(path, trusted, root=root, home=home)
    root_cid = CID.decode(verdict.root_cid)
    wanted = {f.path for f in verdict.manifest.files} | {MANIFEST_NAME}
    # Blocks are re-checked against their CIDs as they are read again here.
    with (
        car.open_car(path, root=root_cid) as car_store,
        store_mod.staged_directory(dest, label="unpack") as stage,
    ):
        for entry in unixfs.walk(car_store, root_cid):
            if entry.kind != "file" or entry.path not in wanted:
                continue
            target = stage / entry.path
            if not target.resolve().is_relative_to(stage.resolve()):
                raise VerificationError(f"refusing to write outside {dest}: {entry.path}")
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                with open(target, "wb") as out:
                    for chunk in entry.chunks():
                        out.write(chunk)
            except OSError as exc:
                raise store_mod.storage_error(exc, target) from exc
    return verdict
