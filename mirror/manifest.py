"""The bundle manifest: what the publisher signs about one article bundle.

A manifest lists every file of the bundle except manifest.json itself (path, size,
sha256, CID), the article's metadata and the capture provenance. The bundle's root
CID cannot be inside its own manifest; feeds list root CIDs. Unknown fields are kept
(in `extra`) so a newer publisher's manifests still verify and round-trip.
Schema: manifests/manifest.schema.json. Decision: docs/decisions/0002-envelope-and-manifest.md.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from . import canonjson
from .errors import UsageError

FORMAT = "mirror-manifest/1"
MANIFEST_NAME = "manifest.json"
MAX_MANIFEST = 4 << 20
MAX_FILES = 10_000
_SHA256 = re.compile(r"^sha256:[0-9a-f]{64}$")
_KNOWN = {"format", "created_at", "publisher", "article", "capture", "files"}
ARTICLE_FIELDS = (
    "title",
    "byline",
    "authors",
    "language",
    "direction",
    "published",
    "site_name",
    "canonical_url",
    "description",
)


def check_relative_path(path: str) -> str:
    """A bundle path: POSIX, relative, no empty/'.'/'..' parts, no backslash or NUL."""
    if not isinstance(path, str) or not path or path.startswith("/") or len(path) > 1024:
        raise UsageError(f"bad path in bundle: {path!r}")
    for part in path.split("/"):
        if part in ("", ".", "..") or "\\" in part or "\x00" in part or part.startswith("."):
            raise UsageError(f"bad path in bundle: {path!r}")
    if re.match(r"^[A-Za-z]:", path):
        raise UsageError(f"bad path in bundle: {path!r}")
    return path


@dataclass(frozen=True, slots=True)
class FileRecord:
    path: str
    size: int
    sha256: str  # "sha256:<hex>"
    cid: str  # CIDv1 base32

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "size": self.size, "sha256": self.sha256, "cid": self.cid}

    @classmethod
    def from_dict(cls, d: Any) -> FileRecord:
        if not isinstance(d, dict) or set(d) != {"path", "size", "sha256", "cid"}:
            raise UsageError("manifest file entries have exactly path, size, sha256 and cid")
        path, size, sha, cid = d["path"], d["size"], d["sha256"], d["cid"]
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise UsageError(f"manifest: bad size for {path!r}")
        if not isinstance(sha, str) or not _SHA256.match(sha):
            raise UsageError(f"manifest: bad sha256 for {path!r}")
        if not isinstance(cid, str) or not cid.startswith("b") or len(cid) > 200:
            raise UsageError(f"manifest: bad cid for {path!r}")
        return cls(check_relative_path(path), size, sha, cid)


@dataclass(frozen=True, slots=True)
class Manifest:
    created_at: str
    publisher: dict[str, Any]  # {"key_id": ..., "identity_version": ...}
    article: dict[str, Any]  # see ARTICLE_FIELDS; strings, authors a list
    capture: dict[str, Any]  # provenance; see the schema
    files: tuple[FileRecord, ...]
    extra: dict[str, Any] = field(default_factory=dict)

    def file(self, path: str) -> FileRecord | None:
        return next((f for f in self.files if f.path == path), None)

    @property
    def title(self) -> str:
        return str(self.article.get("title") or "")

    @property
    def url(self) -> str:
        return str(self.article.get("canonical_url") or self.capture.get("final_url") or "")

    @property
    def captured_at(self) -> str:
        return str(self.capture.get("fetched_at") or self.created_at)

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.extra,
            "format": FORMAT,
            "created_at": self.created_at,
            "publisher": self.publisher,
            "article": self.article,
            "capture": self.capture,
            "files": [f.to_dict() for f in sorted(self.files, key=lambda f: f.path.encode())],
        }

    def to_bytes(self) -> bytes:
        """The signed bytes: canonical JSON (one function makes them, always)."""
        return canonjson.dumps(self.to_dict())

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Manifest:
        if d.get("format") != FORMAT:
            raise UsageError(f"manifest format is {d.get('format')!r}, expected {FORMAT!r}")
        for name in ("publisher", "article", "capture"):
            if not isinstance(d.get(name), dict):
                raise UsageError(f"manifest: {name} must be an object")
        if not isinstance(d.get("created_at"), str):
            raise UsageError("manifest: created_at must be a string")
        files = d.get("files")
        if not isinstance(files, list) or len(files) > MAX_FILES:
            raise UsageError(f"manifest: files must be a list of at most {MAX_FILES}")
        records = tuple(FileRecord.from_dict(f) for f in files)
        seen: set[str] = set()
        for record in records:
            if record.path in seen or record.path.casefold() in seen:
                raise UsageError(f"manifest lists {record.path!r} twice")
            if record.path == MANIFEST_NAME:
                raise UsageError("manifest must not list manifest.json")
            seen.update({record.path, record.path.casefold()})
        for key in ARTICLE_FIELDS:
            value = d["article"].get(key)
            if key == "authors":
                if value is not None and not (
                    isinstance(value, list) and all(isinstance(a, str) for a in value)
                ):
                    raise UsageError("manifest: article.authors must be a list of strings")
            elif value is not None and not isinstance(value, str):
                raise UsageError(f"manifest: article.{key} must be a string")
        return cls(
            created_at=d["created_at"],
            publisher=d["publisher"],
            article=d["article"],
            capture=d["capture"],
            files=records,
            extra={k: v for k, v in d.items() if k not in _KNOWN},
        )

    @classmethod
    def from_bytes(cls, payload: bytes) -> Manifest:
        return cls.from_dict(canonjson.loads(payload, max_size=MAX_MANIFEST, what="manifest"))
