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
PROVENANCE_FIELDS = ("requested_url", "final_url", "fetched_at", "tool")


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


def _optional_str(d: dict[str, Any], key: str, where: str) -> str | None:
    value = d.get(key)
    if value is not None and not isinstance(value, str):
        raise UsageError(f"manifest: {where}.{key} must be a string")
    return value


def _present(fields: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """Known fields that have a value, plus unknown ones kept as they came."""
    return {**extra, **{k: v for k, v in fields.items() if v is not None}}


@dataclass(frozen=True, slots=True)
class Publisher:
    """Who signed: the key the manifest names and, with an identity, its version."""

    key_id: str
    identity_version: int | None = None
    resigned_at: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Publisher:
        key_id = d.get("key_id")
        if not isinstance(key_id, str):
            raise UsageError("manifest: publisher.key_id must be a string")
        version = d.get("identity_version")
        if version is not None and (
            not isinstance(version, int) or isinstance(version, bool) or version < 1
        ):
            raise UsageError("manifest: publisher.identity_version must be a positive integer")
        known = {"key_id", "identity_version", "resigned_at"}
        return cls(
            key_id,
            version,
            _optional_str(d, "resigned_at", "publisher"),
            {k: v for k, v in d.items() if k not in known},
        )

    def to_dict(self) -> dict[str, Any]:
        fields = {
            "key_id": self.key_id,
            "identity_version": self.identity_version,
            "resigned_at": self.resigned_at,
        }
        return _present(fields, self.extra)


@dataclass(frozen=True, slots=True)
class Article:
    """What the article says about itself (ARTICLE_FIELDS); every field optional."""

    title: str | None = None
    byline: str | None = None
    authors: tuple[str, ...] = ()
    language: str | None = None
    direction: str | None = None
    published: str | None = None
    site_name: str | None = None
    canonical_url: str | None = None
    description: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Article:
        authors = d.get("authors")
        if authors is not None and not (
            isinstance(authors, list) and all(isinstance(a, str) for a in authors)
        ):
            raise UsageError("manifest: article.authors must be a list of strings")
        text = {k: _optional_str(d, k, "article") for k in ARTICLE_FIELDS if k != "authors"}
        return cls(
            **text,
            authors=tuple(authors or ()),
            extra={k: v for k, v in d.items() if k not in ARTICLE_FIELDS},
        )

    def to_dict(self) -> dict[str, Any]:
        fields: dict[str, Any] = {k: getattr(self, k) for k in ARTICLE_FIELDS}
        fields["authors"] = list(self.authors) if self.authors else None
        return _present(fields, self.extra)

    @property
    def byline_text(self) -> str:
        return self.byline or ", ".join(self.authors)


@dataclass(frozen=True, slots=True)
class Provenance:
    """How the bundle was made (capture.*): the fields readers are shown are typed, the
    rest of the record (headers, TLS, images, sanitizer notes...) is kept as it came."""

    requested_url: str | None = None
    final_url: str | None = None
    fetched_at: str | None = None
    tool: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Provenance:
        typed = {k: _optional_str(d, k, "capture") for k in PROVENANCE_FIELDS}
        return cls(**typed, extra={k: v for k, v in d.items() if k not in PROVENANCE_FIELDS})

    def to_dict(self) -> dict[str, Any]:
        return _present({k: getattr(self, k) for k in PROVENANCE_FIELDS}, self.extra)


@dataclass(frozen=True, slots=True)
class Manifest:
    created_at: str
    publisher: Publisher
    article: Article
    capture: Provenance
    files: tuple[FileRecord, ...]
    extra: dict[str, Any] = field(default_factory=dict)

    def file(self, path: str) -> FileRecord | None:
        return next((f for f in self.files if f.path == path), None)

    @property
    def title(self) -> str:
        return self.article.title or ""

    @property
    def url(self) -> str:
        return self.article.canonical_url or self.capture.final_url or ""

    @property
    def captured_at(self) -> str:
        return self.capture.fetched_at or self.created_at

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.extra,
            "format": FORMAT,
            "created_at": self.created_at,
            "publisher": self.publisher.to_dict(),
            "article": self.article.to_dict(),
            "capture": self.capture.to_dict(),
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
        return cls(
            created_at=d["created_at"],
            publisher=Publisher.from_dict(d["publisher"]),
            article=Article.from_dict(d["article"]),
            capture=Provenance.from_dict(d["capture"]),
            files=records,
            extra={k: v for k, v in d.items() if k not in _KNOWN},
        )

    @classmethod
    def from_bytes(cls, payload: bytes) -> Manifest:
        return cls.from_dict(canonjson.loads(payload, max_size=MAX_MANIFEST, what="manifest"))
