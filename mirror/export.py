"""The single-file article: one HTML file that travels by messenger and proves itself.

The export is a deterministic function of the verified bundle (decision note
docs/decisions/0005-single-file-export.md):

    render(index.html, images, manifest.json) =
        index.html with
          - every Content-Security-Policy <meta> removed (each recorded with its offset),
          - every src="assets/..." that names a signed image replaced by a data: URL,
          - right after the first <head> tag: <meta charset="utf-8">, a strict CSP
            <meta> (images only from data:, no script) and an inert
            <script type="application/json"> block holding the signed manifest
            envelope, the identity slot, the inlined paths and the removed tags.

Verifying undoes those edits to recover index.html and every image, checks each
against the signed manifest (sha256, size, CID) under a trusted key, then renders
the export again from the verified parts and requires byte equality with the file.
So every byte is accounted for, and any re-encoding in transit (charset, line
endings, whitespace, base64 re-wrapping) fails verification instead of passing.
"""

from __future__ import annotations

import base64
import hashlib
import io
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import canonjson, store
from .errors import LimitExceeded, MirrorError, UsageError, VerificationError
from .ipld import car, dagpb, unixfs
from .ipld.cid import CID
from .keys import TrustedKey, b64decode_strict
from .manifest import MANIFEST_NAME, MAX_MANIFEST, Manifest
from .verify import Verdict, check_manifest, verify_target

FORMAT = "mirror-export/1"
PAGE = "index.html"
EXPORT_CSP = (
    "default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
    "base-uri 'none'; form-action 'none'"
)
CSP_META = f'<meta http-equiv="Content-Security-Policy" content="{EXPORT_CSP}">'
BLOCK_OPEN = '<script type="application/json" id="mirror-export">'
BLOCK_CLOSE = "</script>"
# The charset comes first: browsers look for it in the first 1024 bytes only, and the
# data block after it can be far longer.
CHARSET_META = '<meta charset="utf-8">'
INSERT_PREFIX = "\n" + CHARSET_META + "\n" + CSP_META + "\n" + BLOCK_OPEN
MIME = {
    "png": "image/png",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "gif": "image/gif",
    "webp": "image/webp",
    "avif": "image/avif",
}
MAX_EXPORT = 64 << 20  # messengers cap files well below this
MAX_ROOT_FILE = 4 << 30

_HEAD = re.compile(r"<head\b[^>]*>", re.I)
_CSP_TAG = re.compile(r"<meta\b[^>]*\bhttp-equiv\s*=\s*[\"']?content-security-policy\b[^>]*>", re.I)
_SRC = re.compile(r'\bsrc="([^"<>]*)"')
_DATA_SRC = re.compile(r'\bsrc="data:([A-Za-z0-9.+/-]*);base64,([A-Za-z0-9+/=]*)"')
_ANY_DATA_SRC = re.compile(r"\bsrc\s*=\s*[\"']?\s*data:", re.I)
_SCRIPT = re.compile(r"<script\b", re.I)


def mime_of(path: str) -> str | None:
    """The data: URL type of a bundle image, or None when it is not inlined."""
    if not path.startswith("assets/"):
        return None
    return MIME.get(path.rsplit(".", 1)[-1].lower()) if "." in path else None


# -- rendering ---------------------------------------------------------------------


def _block_json(block: Mapping[str, Any]) -> str:
    # '<' escaped as \u003c: the JSON can never close its <script> element early.
    return canonjson.dumps(block).decode("utf-8").replace("<", "\\u003c")


def render(page: bytes, images: Mapping[str, bytes], manifest_json: bytes) -> bytes:
    """The export bytes; the same inputs always give the same bytes.

    `images` maps bundle paths to their (verified) bytes; only those the page names
    in a src="..." attribute are inlined.
    """
    try:
        text = page.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError("the reader page is not UTF-8; cannot export it") from exc
    if _SCRIPT.search(text):
        raise UsageError("the reader page contains a <script>; exports carry no script")
    if _ANY_DATA_SRC.search(text):
        raise UsageError("the reader page already holds data: URLs; cannot export it")
    head = _HEAD.search(text)
    if head is None:
        raise UsageError("the reader page has no <head>; cannot export it")
    envelope = canonjson.loads(
        manifest_json.rstrip(b"\n"), max_size=MAX_MANIFEST, what="manifest.json"
    )
    if canonjson.dumps(envelope) + b"\n" != manifest_json:
        raise UsageError("manifest.json is not in canonical form; re-sign the bundle to export it")

    edits: list[tuple[int, int, str]] = []
    removed: list[list[Any]] = []
    for m in _CSP_TAG.finditer(text):
        edits.append((m.start(), m.end(), ""))
        removed.append([m.start(), m.group()])
    inlined: list[str] = []
    for m in _SRC.finditer(text):
        path = m.group(1)
        mime = mime_of(path)
        if mime is None or path not in images:
            continue
        data_url = f"data:{mime};base64,{base64.b64encode(images[path]).decode('ascii')}"
        edits.append((m.start(), m.end(), f'src="{data_url}"'))
        inlined.append(path)
    block = {
        "format": FORMAT,
        "page": PAGE,
        "envelope": envelope,
        "identity": None,  # reserved: the publisher's signed identity document
        "inlined": inlined,
        "removed": removed,
    }
    edits.append((head.end(), head.end(), INSERT_PREFIX + _block_json(block) + BLOCK_CLOSE))
    edits.sort(key=lambda e: (e[0], e[1]))
    out: list[str] = []
    pos = 0
    for start, end, replacement in edits:
        if start < pos:
            raise UsageError("the reader page has overlapping markup; cannot export it")
        out.append(text[pos:start])
        out.append(replacement)
        pos = end
    out.append(text[pos:])
    return "".join(out).encode("utf-8")


# -- taking an export apart ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Parts:
    page: bytes  # index.html as recovered
    images: Mapping[str, bytes]  # inlined path -> bytes
    manifest_json: bytes


def _altered(detail: str) -> VerificationError:
    return VerificationError(f"not a mirror single-file export, or it was altered: {detail}")


def _removed_tags(value: object) -> list[tuple[int, str]]:
    if not isinstance(value, list):
        raise _altered("bad 'removed' list")
    tags = []
    for item in value:
        if (
            not isinstance(item, list)
            or len(item) != 2
            or not isinstance(item[0], int)
            or not isinstance(item[1], str)
        ):
            raise _altered("bad 'removed' entry")
        tags.append((item[0], item[1]))
    return tags


def take_apart(data: bytes) -> Parts:
    """Recover index.html, the inlined images and manifest.json from export bytes.

    Nothing here is trusted: the caller checks every part against the signed manifest
    and then requires render(parts) == data.
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise VerificationError(
            "the file is not UTF-8: it was re-encoded in transit (charset changed)"
        ) from exc
    head = _HEAD.search(text)
    if head is None:
        raise _altered("no <head>")
    start = head.end() + len(INSERT_PREFIX)
    if not text.startswith(INSERT_PREFIX, head.end()):
        if text.startswith(INSERT_PREFIX.replace("\n", "\r\n"), head.end()):
            raise VerificationError(
                "the file's line endings were changed in transit (LF to CRLF); "
                "ask for the original file"
            )
        raise _altered("no signed data block after <head>")
    end = text.find(BLOCK_CLOSE, start)
    if end < 0:
        raise _altered("unterminated data block")
    try:
        block = canonjson.loads(
            text[start:end].encode("utf-8"), max_size=MAX_MANIFEST * 2, what="export data block"
        )
    except UsageError as exc:
        raise _altered(exc.message) from exc
    if block.get("format") != FORMAT:
        raise _altered(f"unknown format {block.get('format')!r}")
    if block.get("page") != PAGE or block.get("identity") is not None:
        raise _altered("unexpected page or identity")
    envelope, inlined = block.get("envelope"), block.get("inlined")
    if not isinstance(envelope, dict):
        raise _altered("no manifest envelope")
    if not isinstance(inlined, list) or not all(isinstance(p, str) for p in inlined):
        raise _altered("bad 'inlined' list")
    removed = _removed_tags(block.get("removed"))

    rest = text[: head.end()] + text[end + len(BLOCK_CLOSE) :]
    images: dict[str, bytes] = {}
    pieces: list[str] = []
    pos = 0
    matches = list(_DATA_SRC.finditer(rest))
    if len(matches) != len(inlined):
        raise _altered(f"{len(matches)} inlined images, {len(inlined)} listed")
    for m, path in zip(matches, inlined, strict=True):
        try:
            raw = b64decode_strict(m.group(2), f"inlined image {path}")
        except UsageError as exc:
            raise VerificationError(
                f"inlined image {path} was re-encoded in transit ({exc.message})"
            ) from exc
        if images.setdefault(path, raw) != raw:
            raise VerificationError(f"two different images claim to be {path}")
        pieces += [rest[pos : m.start()], f'src="{path}"']
        pos = m.end()
    pieces.append(rest[pos:])
    page = "".join(pieces)
    for offset, tag in sorted(removed):
        if not 0 <= offset <= len(page):
            raise _altered("bad offset of a removed tag")
        page = page[:offset] + tag + page[offset:]
    manifest_json = canonjson.dumps(envelope) + b"\n"
    return Parts(page.encode("utf-8"), images, manifest_json)


# -- verifying -----------------------------------------------------------------------


def _file_tsize(size: int) -> int:
    """Cumulative DAG size of a file of `size` bytes in our layout; it depends on the
    size only (every CID has the same length), so zeros of that size give it."""
    if size <= unixfs.CHUNK_SIZE:
        return size
    if size > MAX_ROOT_FILE:
        raise LimitExceeded(f"a bundle file of {size} bytes is too large to account for")

    class _Zeros(io.RawIOBase):
        left = size

        def read(self, n: int = -1) -> bytes:
            take = self.left if n < 0 else min(n, self.left)
            self.left -= take
            return bytes(take)

    return unixfs.add_stream(_Zeros())[1]  # type: ignore[arg-type]


def _entry(data: bytes) -> tuple[unixfs.FileEntry, int]:
    return unixfs.add_stream(io.BytesIO(data))


def bundle_root(manifest: Manifest, manifest_json: bytes, tsizes: Mapping[str, int]) -> CID:
    """The bundle's root CID from its signed file list (CID, size) and manifest.json,
    without the files' bytes: directories are rebuilt exactly as unixfs.add_path does."""
    tree: dict[str, Any] = {}
    entry, tsize = _entry(manifest_json)
    leaves = [(MANIFEST_NAME, entry.cid, tsize)]
    for rec in manifest.files:
        leaves.append((rec.path, CID.decode(rec.cid), tsizes.get(rec.path, _file_tsize(rec.size))))
    for path, cid, size in leaves:
        node = tree
        *dirs, name = path.split("/")
        for d in dirs:
            node = node.setdefault(d, {})
        node[name] = (cid, size)

    def build(node: dict[str, Any]) -> tuple[CID, int]:
        links = []
        total = 0
        for name in sorted(node, key=lambda n: n.encode("utf-8")):
            child = node[name]
            cid, size = build(child) if isinstance(child, dict) else child
            links.append(dagpb.PBLink(cid, name, size))
            total += size
        block = dagpb.encode(dagpb.PBNode(tuple(links), unixfs.DIR_DATA))
        return CID.dag_pb(block), len(block) + total

    return build(tree)[0]


def _check_file(manifest: Manifest, path: str, data: bytes) -> int:
    record = manifest.file(path)
    if record is None:
        raise VerificationError(f"{path} is not listed in the signed manifest")
    if len(data) != record.size or f"sha256:{hashlib.sha256(data).hexdigest()}" != record.sha256:
        raise VerificationError(f"{path}: content differs from what the publisher signed")
    entry, tsize = _entry(data)
    if entry.cid != CID.decode(record.cid):
        raise VerificationError(f"{path}: CID differs from what the publisher signed")
    return tsize


def verify_export_bytes(data: bytes, trusted: Sequence[TrustedKey], threshold: int = 1) -> Verdict:
    """The complete check of a single-file export held in memory."""
    parts = take_apart(data)
    manifest, signer = check_manifest(parts.manifest_json, trusted, threshold)
    tsizes = {PAGE: _check_file(manifest, PAGE, parts.page)}
    for path, raw in parts.images.items():
        tsizes[path] = _check_file(manifest, path, raw)
    try:
        again = render(parts.page, parts.images, parts.manifest_json)
    except UsageError as exc:
        raise VerificationError(f"the signed page cannot be exported: {exc.message}") from exc
    if again != data:
        raise VerificationError(
            "the file's bytes differ from the publisher's export although its parts "
            "verify: it was re-encoded or edited in transit (whitespace, line endings "
            "or base64 wrapping); ask for the original file"
        )
    root = bundle_root(manifest, parts.manifest_json, tsizes)
    return Verdict(
        root.encode(), signer.name, signer.key.key_id, manifest, len(tsizes), "single-file"
    )


def verify_single_file(path: Path, trusted: Sequence[TrustedKey], threshold: int = 1) -> Verdict:
    data = store.read_bytes(Path(path), limit=MAX_EXPORT, what="single-file export")
    return verify_export_bytes(data, trusted, threshold)


# -- reading a verified bundle into memory -------------------------------------------


def _checked(manifest: Manifest, path: str, data: bytes) -> bytes:
    record = manifest.file(path)
    digest = f"sha256:{hashlib.sha256(data).hexdigest()}"
    if record is None or record.sha256 != digest or record.size != len(data):
        raise VerificationError(f"{path} changed after it was verified")
    return data


def read_bundle(
    target: Path, verdict: Verdict, *, max_bytes: int = MAX_EXPORT
) -> tuple[dict[str, bytes], bytes]:
    """The listed files (index.html and images) of a verified bundle folder or CAR, and
    its manifest.json bytes, read into memory and checked again against the manifest
    (the files could change after verification)."""
    manifest = verdict.manifest
    wanted = {f.path for f in manifest.files if f.path == PAGE or mime_of(f.path)}
    if sum(f.size for f in manifest.files if f.path in wanted) > max_bytes:
        raise LimitExceeded(f"the page and its images are larger than {max_bytes} bytes")
    files: dict[str, bytes] = {}
    if Path(target).is_dir():
        for path in sorted(wanted):
            files[path] = _checked(
                manifest, path, store.read_bytes(Path(target) / path, limit=max_bytes, what=path)
            )
        manifest_json = store.read_bytes(
            Path(target) / MANIFEST_NAME, limit=MAX_MANIFEST, what=MANIFEST_NAME
        )
    else:
        root = CID.decode(verdict.root_cid)
        manifest_json = b""
        with car.open_car(Path(target), root=root) as blocks:
            for entry in unixfs.walk(blocks, root):
                if entry.kind != "file":
                    continue
                if entry.path in wanted:
                    files[entry.path] = _checked(manifest, entry.path, b"".join(entry.chunks()))
                elif entry.path == MANIFEST_NAME:
                    manifest_json = b"".join(entry.chunks())
    if PAGE not in files or not manifest_json:
        raise VerificationError(f"the bundle has no {PAGE} or no {MANIFEST_NAME}")
    return files, manifest_json


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


def export_bundle(target: Path, out: Path, trusted: Sequence[TrustedKey]) -> ExportResult:
    """Verify a bundle (folder or CAR) against `trusted`, then write its single-file
    export to `out` atomically; the export is checked by verifying it before writing."""
    verdict = verify_target(Path(target), trusted)
    files, manifest_json = read_bundle(Path(target), verdict)
    page = files.pop(PAGE)
    data = render(page, files, manifest_json)
    if len(data) > MAX_EXPORT:
        raise LimitExceeded(f"the export would be larger than {MAX_EXPORT} bytes")
    try:
        check = verify_export_bytes(data, trusted)
    except MirrorError as exc:
        raise UsageError(f"this bundle cannot be exported faithfully: {exc.message}") from exc
    if check.root_cid != verdict.root_cid:
        raise UsageError("this bundle cannot be exported faithfully: root CID not reproducible")
    store.atomic_write(Path(out), data, label="export")
    parts = take_apart(data)
    return ExportResult(
        path=Path(out),
        verdict=verdict,
        size=len(data),
        bundle_size=sum(f.size for f in verdict.manifest.files) + len(manifest_json),
        carried_size=len(page) + sum(len(b) for b in parts.images.values()),
        inlined=len(parts.images),
    )
