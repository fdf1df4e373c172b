"""`mirror export`: a verified bundle written as one HTML file that travels by messenger
and proves itself. The format (render, take apart) is export_format.py; the verdict
on the bundle and on the written file both come from the trust core.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import store
from .config import Home
from .errors import LimitExceeded, MirrorError, UsageError
from .export_format import MAX_EXPORT, PAGE, render, take_apart
from .identity import CHAIN_NAME
from .keys import TrustedKey
from .reader import check_path, is_export, load_trust, page_files, persist
from .verify import Verdict, check_export

# -- exporting -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ExportResult:
    path: Path
    verdict: Verdict
    size: int  # bytes of the export
    bundle_size: int  # every file of the bundle, manifest.json included
    carried_size: int  # index.html + the inlined images, as raw bytes
    inlined: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "root_cid": self.verdict.root_cid,
            "publisher": self.verdict.publisher,
            "key_id": self.verdict.key_id,
            "size": self.size,
            "bundle_size": self.bundle_size,
            "carried_size": self.carried_size,
            "inlined_images": self.inlined,
            "overhead_vs_bundle": round(self.size / self.bundle_size, 3)
            if self.bundle_size
            else None,
        }


def export_bundle(
    home: Home, target: Path, out: Path, trusted: Sequence[TrustedKey]
) -> ExportResult:
    """Verify a bundle (folder or CAR) against `trusted` and what this reader remembers,
    then write its single-file export to `out` atomically; the export is verified the
    same way before it is written."""
    target = Path(target)
    if is_export(target):
        raise UsageError(f"{target} is already a single-file export")
    trust = load_trust(home, trusted)
    verdict = check_path(target, trust)
    files = page_files(target, verdict)
    page = files.pop(PAGE)
    chain = files.pop(CHAIN_NAME, None)
    data = render(page, files, verdict.manifest_json, chain)
    if len(data) > MAX_EXPORT:
        raise LimitExceeded(f"the export would be larger than {MAX_EXPORT} bytes")
    try:
        check = check_export(data, trust)
    except MirrorError as exc:
        raise UsageError(f"this bundle cannot be exported faithfully: {exc.message}") from exc
    if check.root_cid != verdict.root_cid:
        raise UsageError("this bundle cannot be exported faithfully: root CID not reproducible")
    store.atomic_write(Path(out), data, label="export")
    persist(home, verdict)
    parts = take_apart(data)
    return ExportResult(
        path=Path(out),
        verdict=verdict,
        size=len(data),
        bundle_size=sum(f.size for f in verdict.manifest.files) + len(verdict.manifest_json),
        carried_size=len(page) + sum(len(b) for b in parts.images.values()),
        inlined=len(parts.images),
    )
