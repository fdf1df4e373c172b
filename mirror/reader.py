"""The reader layer: every surface's way to the one verdict, and the one place that
persists what a verdict teaches.

`load_trust` gathers what the reader brings (trusted keys, remembered identity chains,
this data directory's own identity, the time); `check_path` dispatches a folder, CAR
or single-file export to the trust core (verify.py); `persist` writes what a verdict
says to remember, and is called only after the whole operation succeeded, so a
refusal writes no state anywhere.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from . import feed, identity_state, keys, retrieve, store
from .clock import Clock, sha256_tag, system_clock
from .config import Home
from .errors import LimitExceeded, UsageError, VerificationError
from .export_format import MAX_EXPORT, PAGE, mime_of
from .identity import CHAIN_NAME, MAX_CHAIN
from .ipld import car, unixfs
from .ipld.cid import CID
from .keys import TrustedKey
from .manifest import MANIFEST_NAME, MAX_MANIFEST
from .verify import Trust, Verdict, check_car, check_export, check_folder, judge_manifest

EXPORT_SUFFIXES = (".html", ".htm")


def load_trust(home: Home, trusted: Sequence[TrustedKey], clock: Clock = system_clock) -> Trust:
    """What this reader trusts and remembers, read once, before any check."""
    return Trust(
        keys=tuple(trusted),
        remembered=identity_state.remembered_chains(home, trusted),
        own=identity_state.home_chain(home),
        now=clock(),
    )


def persist(home: Home, verdict: Verdict) -> None:
    """Remember what a successful verdict taught (a longer identity chain)."""
    if verdict.remember is not None:
        identity_state.save(home, verdict.remember.anchor, verdict.remember.chain)


def is_export(target: Path) -> bool:
    return target.suffix.lower() in EXPORT_SUFFIXES and target.is_file()


def check_path(target: Path, trust: Trust, root: CID | None = None) -> Verdict:
    """A bundle folder, a CAR file, or a single-file export (.html): the verdict, pure."""
    target = Path(target)
    if target.is_dir() and not target.is_symlink():
        return check_folder(target, trust)
    if is_export(target):
        data = store.read_bytes(target, limit=MAX_EXPORT, what="single-file export")
        return check_export(data, trust)
    if target.is_file():
        return check_car(target, trust, root=root)
    raise UsageError(f"no such bundle folder or file: {target}")


def verify(home: Home, target: Path, trusted: Sequence[TrustedKey]) -> Verdict:
    """`mirror verify TARGET`: the verdict, remembered on success."""
    verdict = check_path(target, load_trust(home, trusted))
    persist(home, verdict)
    return verdict


def _empty_or_absent(dest: Path) -> bool:
    if not dest.exists():
        return True
    try:
        with os.scandir(dest) as entries:
            return next(entries, None) is None
    except OSError:
        return False


def unpack(
    home: Home,
    car_path: Path,
    dest: Path,
    trusted: Sequence[TrustedKey],
    *,
    root: CID | None = None,
    force: bool = False,
) -> Verdict:
    """Verify the CAR completely, then write exactly the listed files into `dest`.

    A non-empty `dest` is refused unless `force`; then the bundle's files are moved in
    beside what is there (same-named files replaced, nothing else touched), and only
    once the whole copy verified and is staged. Paths were checked when the manifest
    was parsed (no '..', no absolute paths) and files are written into a fresh staging
    folder, so nothing is written through a link or outside `dest`.
    """
    dest = Path(dest)
    if dest.is_symlink():
        raise UsageError(f"refusing to unpack through a symlink: {dest}")
    if dest.exists() and not dest.is_dir():
        raise UsageError(f"{dest} exists and is not a folder")
    if not force and not _empty_or_absent(dest):
        raise UsageError(f"{dest} is not empty; choose another folder or pass --force")
    verdict = check_car(car_path, load_trust(home, trusted), root=root)
    write_car_files(car_path, verdict, dest)
    persist(home, verdict)
    return verdict


def write_car_files(car_path: Path, verdict: Verdict, dest: Path) -> None:
    """The listed files of a verified CAR, staged, then swapped in as `dest` (new or
    empty) or moved in beside what a non-empty `dest` already holds."""
    writer = store.staged_directory if _empty_or_absent(dest) else store.merged_directory
    with writer(dest, label="unpack") as stage:
        _stage_car_files(car_path, verdict, stage, dest)


def _stage_car_files(car_path: Path, verdict: Verdict, stage: Path, dest: Path) -> None:
    root_cid = CID.decode(verdict.root_cid)
    wanted = {f.path for f in verdict.manifest.files} | {MANIFEST_NAME}
    # Blocks are re-checked against their CIDs as they are read again here.
    with car.open_car(car_path, root=root_cid) as car_store:
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
                raise store.storage_error(exc, target) from exc


def own_bundle_signer(home: Home, folder: Path) -> tuple[str, str] | None:
    """(key name, capture time) when the bundle folder's manifest is signed by a key
    held in this data directory (publisher commands then also write a .minisig). Only
    the signature is checked: the caller has just hashed the files."""
    own = keys.own_keys(home)
    manifest_path, chain_path = Path(folder) / MANIFEST_NAME, Path(folder) / CHAIN_NAME
    if not own or not manifest_path.is_file():
        return None
    try:
        data = store.read_bytes(manifest_path, limit=MAX_MANIFEST, what=MANIFEST_NAME)
        chain = (
            store.read_bytes(chain_path, limit=MAX_CHAIN, what=CHAIN_NAME)
            if chain_path.is_file()
            else None
        )
        judged = judge_manifest(data, chain, load_trust(home, own))
    except (UsageError, VerificationError):
        return None
    return judged.signer.name, judged.manifest.captured_at


# -- getting a bundle by CID -----------------------------------------------------------


def fetch(
    home: Home,
    cid: CID,
    trusted: Sequence[TrustedKey],
    *,
    node: retrieve.Node | None,
    gateways: Sequence[str],
    deadline: float,
    progress: retrieve.Progress,
) -> retrieve.Fetched:
    """A verified CAR of `cid` in the local cache, from the first source that delivers
    one (gateways recommended by the publisher's last verified feed included)."""
    return _fetch(home, cid, trusted, load_trust(home, trusted), node, gateways, deadline, progress)


def _fetch(
    home: Home,
    cid: CID,
    trusted: Sequence[TrustedKey],
    trust: Trust,
    node: retrieve.Node | None,
    gateways: Sequence[str],
    deadline: float,
    progress: retrieve.Progress,
) -> retrieve.Fetched:
    return retrieve.fetch_verified(
        home,
        cid,
        trust,
        node=node,
        gateways=gateways,
        feed_gateways=feed.remembered_gateways(home, trusted),
        deadline=deadline,
        progress=progress,
    )


def get(
    home: Home,
    cid: CID,
    trusted: Sequence[TrustedKey],
    out: Path,
    *,
    node: retrieve.Node | None,
    gateways: Sequence[str],
    deadline: float,
    progress: retrieve.Progress,
    force: bool = False,
) -> tuple[retrieve.Fetched, Verdict]:
    """`mirror get`: fetch, then write a CAR copy (OUT ending in .car) or the unpacked
    bundle folder; the copy written is verified again, and remembered on success."""
    out = Path(out)
    to_folder = out.suffix.lower() != ".car"
    if to_folder and not force and not _empty_or_absent(out):
        raise UsageError(f"{out} is not empty; choose another folder or pass --force")
    trust = load_trust(home, trusted)
    fetched = _fetch(home, cid, trusted, trust, node, gateways, deadline, progress)
    root = CID.decode(fetched.verdict.root_cid)
    if to_folder:
        verdict = check_car(fetched.car, trust, root=root)
        write_car_files(fetched.car, verdict, out)
    else:
        store.atomic_copy(fetched.car, out, label="get")
        verdict = check_car(out, trust, root=root)
    persist(home, verdict)
    return fetched, verdict


# -- the verified bytes a page shows ---------------------------------------------------


def _checked(verdict: Verdict, path: str, data: bytes) -> bytes:
    record = verdict.manifest.file(path)
    if record is None or record.size != len(data) or record.sha256 != sha256_tag(data):
        raise VerificationError(f"{path} changed after it was verified")
    return data


def page_files(target: Path, verdict: Verdict, *, max_bytes: int = MAX_EXPORT) -> dict[str, bytes]:
    """The listed page files (index.html, images, identity.json) of a verified bundle
    folder or CAR, read into memory and checked again against the manifest (the files
    could change after verification)."""
    manifest = verdict.manifest
    wanted = {f.path for f in manifest.files if f.path in (PAGE, CHAIN_NAME) or mime_of(f.path)}
    if sum(f.size for f in manifest.files if f.path in wanted) > max_bytes:
        raise LimitExceeded(f"the page and its images are larger than {max_bytes} bytes")
    files: dict[str, bytes] = {}
    if Path(target).is_dir():
        for path in sorted(wanted):
            data = store.read_bytes(Path(target) / path, limit=max_bytes, what=path)
            files[path] = _checked(verdict, path, data)
    else:
        root = CID.decode(verdict.root_cid)
        with car.open_car(Path(target), root=root) as blocks:
            for entry in unixfs.walk(blocks, root):
                if entry.kind == "file" and entry.path in wanted:
                    files[entry.path] = _checked(verdict, entry.path, b"".join(entry.chunks()))
    if PAGE not in files:
        raise VerificationError(f"the bundle has no {PAGE}", reason="missing-file")
    return files
