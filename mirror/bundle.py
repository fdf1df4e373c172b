"""Write a signed bundle folder: content files + manifest.json (a signed envelope).

The folder is staged in a hidden sibling and swapped into place whole, so an
interrupted run leaves the old bundle or the new one, never a mix. Files are
hashed from the staged copy (what we hash is what we ship): once for the manifest,
once more with manifest.json for the root, and that second pass can write the CAR.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import __version__, envelope, store
from .clock import now_text
from .errors import StorageError, UsageError
from .identity import CHAIN_NAME
from .ipld.car import write_car
from .ipld.cid import CID
from .ipld.unixfs import add_path
from .manifest import (
    MANIFEST_NAME,
    Article,
    FileRecord,
    Manifest,
    Provenance,
    Publisher,
    check_relative_path,
)
from .signer import Signer


@dataclass(frozen=True, slots=True)
class BundleResult:
    path: Path
    root: CID
    manifest: Manifest
    manifest_bytes: bytes  # the envelope as written to manifest.json
    skipped_hidden: tuple[str, ...]


def write_bundle(
    out: Path,
    content: Mapping[str, bytes | Path],
    *,
    article: dict[str, Any],
    capture: dict[str, Any],
    signer: Signer,
    created_at: str | None = None,
    publisher: dict[str, Any] | None = None,
    car_out: Path | None = None,
) -> BundleResult:
    """Stage `content` (bundle path -> bytes or a file to copy), sign, swap into `out`.

    With a publisher identity the chain travels as identity.json, the manifest names
    the identity version, and a threshold of its keys signs. `publisher` adds facts
    to the manifest's publisher object. With `car_out` the pass that computes the root
    also writes the bundle's CAR there (atomically, from the staged files), so the
    files are not read a third time.
    """
    if signer.chain is not None:
        content = {**content, CHAIN_NAME: signer.chain}
    for path in content:
        check_relative_path(path)
        if path == MANIFEST_NAME:
            raise UsageError("a bundle's content cannot include manifest.json")
    with store.staged_directory(Path(out), label="bundle") as stage:
        for rel, data in sorted(content.items()):
            target = stage / rel
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                if isinstance(data, Path):
                    if data.is_symlink() or not data.is_file():
                        raise UsageError(f"not a regular file: {data}")
                    shutil.copyfile(data, target, follow_symlinks=False)
                else:
                    target.write_bytes(data)
            except OSError as exc:
                raise store.storage_error(exc, target) from exc
        hashed = add_path(stage)
        records = tuple(
            FileRecord(rel, entry.size, f"sha256:{entry.sha256}", entry.cid.encode())
            for rel, entry in sorted(hashed.files.items())
        )
        manifest = Manifest(
            created_at=created_at or now_text(),
            publisher=Publisher.from_dict({**signer.publisher(), **(publisher or {})}),
            article=Article.from_dict(article),
            capture=Provenance.from_dict({"tool": f"mirror {__version__}", **capture}),
            files=records,
        )
        signed = envelope.sign(envelope.MANIFEST_TYPE, manifest.to_bytes(), signer.keys).to_bytes()
        try:
            (stage / MANIFEST_NAME).write_bytes(signed)
        except OSError as exc:
            raise store.storage_error(exc, stage) from exc
        second = add_path(stage) if car_out is None else write_car(stage, Path(car_out))
        root = second.root
    return BundleResult(Path(out), root, manifest, signed, hashed.skipped_hidden)


def collect_folder(src: Path) -> dict[str, Path]:
    """Every regular file under `src` by bundle path; hidden names are left out.

    Symlinks, FIFOs and devices are refused (exit 2) before anything is written.
    """
    files: dict[str, Path] = {}
    folded: dict[str, str] = {}
    stack = [src]
    while stack:
        directory = stack.pop()
        try:
            entries = sorted(directory.iterdir())
        except OSError as exc:
            raise StorageError(f"cannot read {directory}: {exc.strerror or exc}") from exc
        for entry in entries:
            if entry.name.startswith("."):
                continue
            rel = entry.relative_to(src).as_posix()
            if entry.is_symlink():
                raise UsageError(f"symlinks are not allowed in a bundle: {entry}")
            if entry.is_dir():
                stack.append(entry)
            elif entry.is_file():
                check_relative_path(rel)
                if rel.casefold() in folded:
                    raise UsageError(
                        f"names differ only by case: {folded[rel.casefold()]!r}, {rel!r}"
                    )
                folded[rel.casefold()] = rel
                files[rel] = entry
            else:
                raise UsageError(f"not a regular file (FIFO or device?): {entry}")
    return files
