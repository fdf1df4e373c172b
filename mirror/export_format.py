"""The single-file export format: render a verified bundle as one HTML file, and take
such a file apart again. Pure functions, no trust decisions (those are in verify.py).

    render(index.html, images, manifest.json, identity.json) =
        index.html with
          - every Content-Security-Policy <meta> removed (each recorded with its offset),
          - every src="assets/..." that names a signed image replaced by a data: URL,
          - right after the first <head> tag: <meta charset="utf-8">, a strict CSP
            <meta> (images only from data:, no script) and an inert
            <script type="application/json"> block holding the signed manifest
            envelope, the publisher's identity chain (identity.json as an object, or
            null), the inlined paths and the removed tags.

A verifier undoes those edits to recover index.html, every image and identity.json,
checks each against the signed manifest, renders again and requires byte equality,
so every byte is accounted for. Decision: docs/decisions/0005-single-file-export.md.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from . import canonjson
from .clock import format_time
from .errors import MalformedInput, UsageError, VerificationError
from .identity import MAX_CHAIN
from .ipld import dagpb, unixfs
from .ipld.cid import CID
from .keys import b64decode_strict
from .manifest import MANIFEST_NAME, MAX_MANIFEST, Manifest
from .timestamp import claimed_time

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

_HEAD = re.compile(r"<head\b[^>]*>", re.I)
_BODY = re.compile(r"<body\b[^>]*>", re.I)
STAMP_STYLE = "margin:0;padding:6px 10px;background:#eef3ff;font:14px/1.4 sans-serif"
_CSP_TAG = re.compile(r"<meta\b[^>]*\bhttp-equiv\s*=\s*[\"']?content-security-policy\b[^>]*>", re.I)
_SRC = re.compile(r'\bsrc="([^"<>]*)"')
_DATA_SRC = re.compile(r'\bsrc="data:([A-Za-z0-9.+/-]*);base64,([A-Za-z0-9+/=]*)"')
# The same, allowing the line breaks a mail or chat client may wrap base64 with.
_WRAPPED_DATA_SRC = re.compile(r'\bsrc="data:[A-Za-z0-9.+/-]*;base64,[A-Za-z0-9+/=\s]*"')
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


def referenced_images(page: str) -> Iterator[str]:
    """Bundle image paths the page loads through src="..." (what an export inlines)."""
    for m in _SRC.finditer(page):
        if mime_of(m.group(1)) is not None:
            yield m.group(1)


def _chain_object(chain_json: bytes | None) -> Any:
    if chain_json is None:
        return None
    chain = canonjson.loads(chain_json.rstrip(b"\n"), max_size=MAX_CHAIN, what="identity.json")
    if canonjson.dumps(chain) + b"\n" != chain_json:
        raise UsageError("identity.json is not in canonical form; re-sign the bundle to export it")
    return chain


def stamp_line(envelope: Mapping[str, Any]) -> str | None:
    """The visible line an export of a stamped bundle opens its body with: the earliest
    time its signatures' RFC 3161 tokens claim. The reader page was signed before the
    stamps existed, so the line is part of the export's fixed rendering, derived from
    the envelope it carries (and, like the banner, checked only by a verifier)."""
    times = []
    for signature in envelope.get("signatures") or ():
        token = signature.get("tst") if isinstance(signature, dict) else None
        if isinstance(token, str):
            try:
                claimed = claimed_time(base64.b64decode(token, validate=True))
            except ValueError:
                claimed = None
            if claimed is not None:
                times.append(claimed)
    if not times:
        return None
    return (
        f'<p class="mirror-stamp" style="{STAMP_STYLE}">Timestamp: this article\'s '
        f"signature existed by {format_time(min(times))} (an RFC 3161 token in this file; "
        "mirror verify and the verifier page check it).</p>"
    )


def render(
    page: bytes, images: Mapping[str, bytes], manifest_json: bytes, chain_json: bytes | None
) -> bytes:
    """The export bytes; the same inputs always give the same bytes.

    `images` maps bundle paths to their (verified) bytes; only those the page names
    in a src="..." attribute are inlined. `chain_json` is the bundle's identity.json.
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
        "identity": _chain_object(chain_json),
        "inlined": inlined,
        "removed": removed,
    }
    edits.append((head.end(), head.end(), INSERT_PREFIX + _block_json(block) + BLOCK_CLOSE))
    line, body = stamp_line(envelope), _BODY.search(text)
    if line is not None and body is not None:
        edits.append((body.end(), body.end(), line))
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
    chain_json: bytes | None  # identity.json as recovered, when the export carries it


def _altered(detail: str) -> VerificationError:
    return VerificationError(f"not a mirror single-file export, or it was altered: {detail}")


def _reencoded(detail: str) -> VerificationError:
    return VerificationError(detail, reason="non-canonical")


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
        raise _reencoded(
            "the file is not UTF-8: it was re-encoded in transit (charset changed)"
        ) from exc
    head = _HEAD.search(text)
    if head is None:
        raise _altered("no <head>")
    start = head.end() + len(INSERT_PREFIX)
    if not text.startswith(INSERT_PREFIX, head.end()):
        if text.startswith(INSERT_PREFIX.replace("\n", "\r\n"), head.end()):
            raise _reencoded(
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
    except MalformedInput:
        raise
    except UsageError as exc:
        raise _altered(exc.message) from exc
    if block.get("format") != FORMAT:
        raise _altered(f"unknown format {block.get('format')!r}")
    chain = block.get("identity")
    if block.get("page") != PAGE or not (chain is None or isinstance(chain, dict)):
        raise _altered("unexpected page or identity")
    envelope, inlined = block.get("envelope"), block.get("inlined")
    if not isinstance(envelope, dict):
        raise _altered("no manifest envelope")
    if not isinstance(inlined, list) or not all(isinstance(p, str) for p in inlined):
        raise _altered("bad 'inlined' list")
    removed = _removed_tags(block.get("removed"))

    rest = text[: head.end()] + text[end + len(BLOCK_CLOSE) :]
    line, body = stamp_line(envelope), _BODY.search(rest)
    if line is not None and body is not None and rest.startswith(line, body.end()):
        rest = rest[: body.end()] + rest[body.end() + len(line) :]
    images: dict[str, bytes] = {}
    pieces: list[str] = []
    pos = 0
    matches = list(_DATA_SRC.finditer(rest))
    if len(matches) != len(inlined):
        if len(_WRAPPED_DATA_SRC.findall(rest)) == len(inlined):
            raise _reencoded(
                "the inlined images were re-wrapped in transit (line breaks in base64); "
                "ask for the original file"
            )
        raise _altered(f"{len(matches)} inlined images, {len(inlined)} listed")
    for m, path in zip(matches, inlined, strict=True):
        try:
            raw = b64decode_strict(m.group(2), f"inlined image {path}")
        except UsageError as exc:
            raise _reencoded(
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
    chain_json = canonjson.dumps(chain) + b"\n" if chain is not None else None
    return Parts(page.encode("utf-8"), images, manifest_json, chain_json)


# -- the root of a bundle from its signed file list -----------------------------------


def bundle_root(manifest: Manifest, manifest_json: bytes) -> CID:
    """The bundle's root CID from its signed file list (CIDs, sizes) and manifest.json,
    without the files' bytes: directories are rebuilt exactly as unixfs.add_path does,
    and each file's DAG size follows from its signed size (unixfs.file_tsize)."""
    tree: dict[str, Any] = {}
    entry, tsize = unixfs.add_bytes(manifest_json)
    leaves = [(MANIFEST_NAME, entry.cid, tsize)]
    for rec in manifest.files:
        leaves.append((rec.path, CID.decode(rec.cid), unixfs.file_tsize(rec.size)))
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
