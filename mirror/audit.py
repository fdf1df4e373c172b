"""`mirror verify --all`: check everything a data directory holds, without the passphrase.

Checked: every private key file (structure, 0600, its public key equal to the .pub
beside it), settings, the trust store, published.json and captures.json, the bundles
they point at (folders and CARs, verified against the keys held or trusted here), the
CAR cache, the publisher's feed, head and feed history (signatures by the keys held
here), remembered feed and identity versions, the publisher identity and follower
state. Missing registries are fine; each damaged item is one problem.

Leftovers of interrupted writes (hidden ".NAME.*.tmp", ".NAME.*.staging", ".NAME.*.old",
".get-*.car" and tmp/work-*) are reported but are not failures: no reader ever takes
them for data, and the file they were meant to replace is complete. `repair=True`
removes them and rewrites a key's missing or stale .pub from its key file (keygen
writes the key first, so a crash between the two writes leaves exactly that).
Decision: docs/threat-model.md ("Crash safety").
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import stat
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import canonjson, envelope, feed, identity_state, keys, store
from .clock import utc_now
from .config import Home
from .errors import MirrorError, UsageError, VerificationError
from .follow import FollowState
from .identity import MAX_CHAIN, MAX_DOCUMENT
from .ipld import car, unixfs
from .ipld.cid import CID
from .keys import PublicKey, TrustedKey
from .manifest import MANIFEST_NAME, MAX_MANIFEST
from .publisher import PENDING_NAME
from .push import load_published
from .reader import load_trust
from .verify import check_car, check_folder

MAX_WALK = 200_000  # entries visited when looking for leftovers
MAX_KEY_FILE = 64 << 10
MAX_CAPTURES = 64 << 20
_LEFTOVER = re.compile(r"^\..+\.(tmp|staging|old)$|^\.get-.+\.car$")
_FEED_HISTORY = re.compile(r"^([1-9][0-9]{0,18})(\.head)?\.json$")
# Python's own errors a parser written elsewhere may let through on hostile input.
_MALFORMED = (KeyError, TypeError, ValueError, AttributeError, IndexError, UnicodeError)


@dataclass(frozen=True, slots=True)
class Finding:
    level: str  # "problem" (exit 3) | "warning" | "leftover" | "repaired"
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.level}: {self.path}: {self.message}"

    def to_dict(self) -> dict[str, str]:
        return {"level": self.level, "path": self.path, "message": self.message}


@dataclass(frozen=True, slots=True)
class AuditReport:
    home: Path
    checked: dict[str, int]
    findings: tuple[Finding, ...]

    @property
    def problems(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.level == "problem")

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "home": str(self.home),
            "checked": dict(self.checked),
            "findings": [f.to_dict() for f in self.findings],
        }


@dataclass
class _Audit:
    home: Home
    repair: bool
    checked: dict[str, int] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)

    def rel(self, path: Path) -> str:
        try:
            return path.relative_to(self.home.root).as_posix()
        except ValueError:
            return str(path)

    def add(self, level: str, path: Path, message: str) -> None:
        self.findings.append(Finding(level, self.rel(path), message))

    def count(self, kind: str) -> None:
        self.checked[kind] = self.checked.get(kind, 0) + 1

    def check(self, kind: str, path: Path, fn: Callable[..., object], *args: Any) -> None:
        """Run fn(*args); any MirrorError or parser slip is one problem line for `path`."""
        self.count(kind)
        try:
            fn(*args)
        except MirrorError as exc:
            self.add("problem", path, exc.message)
        except _MALFORMED as exc:
            self.add("problem", path, f"malformed ({type(exc).__name__})")


def audit_home(home: Home, *, repair: bool = False) -> AuditReport:
    """Check the data directory `home`; with repair, remove leftovers and rewrite .pub files."""
    audit = _Audit(home, repair)
    if not home.root.is_dir():
        audit.add("problem", home.root, "data directory does not exist")
        return AuditReport(home.root, audit.checked, tuple(audit.findings))
    own = _keys(audit)
    _settings(audit)
    trusted = _trust(audit)
    known = _dedupe([*own, *trusted])
    _published(audit)
    bundle_dirs = _captures(audit, known)
    _car_cache(audit, known)
    _own_feed(audit, own)
    _feed_states(audit)
    _identity(audit)
    _follow_states(audit)
    _leftovers(audit, [home.root, *bundle_dirs])
    return AuditReport(home.root, audit.checked, tuple(audit.findings))


def _dedupe(items: Sequence[TrustedKey]) -> list[TrustedKey]:
    seen: dict[bytes, TrustedKey] = {}
    for item in items:
        seen.setdefault(item.key.raw, item)
    return list(seen.values())


# -- keys, settings, trust ----------------------------------------------------------------


def check_key_file(path: Path) -> PublicKey:
    """A private key file's structure (no passphrase needed): regular file, not a symlink,
    owner-only mode, the documented format with sane KDF parameters and field lengths."""
    info = path.lstat()
    if stat.S_ISLNK(info.st_mode):
        raise UsageError("key file is a symlink")
    if not stat.S_ISREG(info.st_mode):
        raise UsageError("key file is not a regular file")
    if info.st_mode & 0o077:
        raise UsageError(f"key file mode is {stat.S_IMODE(info.st_mode):04o}, expected 0600")
    doc = canonjson.loads(
        store.read_bytes(path, limit=MAX_KEY_FILE, what="key file").rstrip(b"\n"),
        max_size=MAX_KEY_FILE,
        what="key file",
    )
    if doc.get("format") != keys.KEY_FORMAT:
        raise UsageError(f"key file format is {doc.get('format')!r}")
    if set(doc) != {"format", "public_key", "kdf", "cipher", "ciphertext"}:
        raise UsageError("key file has missing or unknown fields")
    kdf, cipher = doc["kdf"], doc["cipher"]
    if kdf.get("name") != "scrypt" or cipher.get("name") != "chacha20-poly1305":
        raise UsageError("key file names an unsupported KDF or cipher")
    n, r, p = kdf.get("n"), kdf.get("r"), kdf.get("p")
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (n, r, p)):
        raise UsageError("key file KDF parameters must be integers")
    if not (2 <= n <= 2**20 and n & (n - 1) == 0 and 1 <= r <= 32 and 1 <= p <= 16):
        raise UsageError("key file has out-of-range KDF parameters")
    for value, size, what in (
        (kdf.get("salt"), 16, "salt"),
        (cipher.get("nonce"), 12, "nonce"),
        (doc["ciphertext"], 48, "ciphertext"),  # 32-byte seed + 16-byte tag
    ):
        if not isinstance(value, str) or len(keys.b64decode_strict(value, what)) != size:
            raise UsageError(f"key file {what} must be {size} bytes")
    if not isinstance(doc["public_key"], str):
        raise UsageError("key file public_key must be a string")
    return PublicKey.from_text(doc["public_key"])


def _keys(audit: _Audit) -> list[TrustedKey]:
    """Every key held here; returns the public keys of the sound ones."""
    directory = audit.home.keys_dir
    if not directory.is_dir():
        return []
    own: list[TrustedKey] = []
    for path in sorted(directory.iterdir()):
        if path.name.startswith("."):
            continue
        if path.suffix == ".key":
            audit.check("keys", path, _one_key, audit, path, own)
        elif path.suffix == ".pub" and not path.with_suffix(".key").exists():
            audit.check("keys", path, _orphan_pub, audit, path)
    return own


def _one_key(audit: _Audit, path: Path, own: list[TrustedKey]) -> None:
    name = keys.validate_name(path.stem)
    public = check_key_file(path)
    pub_path = path.with_suffix(".pub")
    line = public.to_text().encode() + b"\n"
    if pub_path.is_symlink():
        audit.add("problem", pub_path, "public key file is a symlink")
    elif not pub_path.exists():
        _fix_pub(audit, pub_path, line, "public key file is missing")
    else:
        text = store.read_bytes(pub_path, limit=1024, what="public key").decode("ascii", "replace")
        try:
            matches = PublicKey.from_text(text) == public
        except MirrorError:
            matches = False
        if not matches:
            _fix_pub(audit, pub_path, line, "public key file does not match the key file")
    own.append(TrustedKey(name, public, ""))


def _fix_pub(audit: _Audit, pub_path: Path, line: bytes, why: str) -> None:
    if audit.repair:
        store.atomic_write(pub_path, line, label="key-pub")
        audit.add("repaired", pub_path, f"{why}: rewritten from the key file")
    else:
        audit.add("problem", pub_path, f"{why} (--repair rewrites it from the key file)")


def _orphan_pub(audit: _Audit, path: Path) -> None:
    PublicKey.from_text(store.read_bytes(path, limit=1024, what="public key").decode("ascii"))
    audit.add("warning", path, "public key without a private key file")


def _settings(audit: _Audit) -> None:
    path = audit.home.settings_file
    if not path.exists():
        return

    def check() -> None:
        settings = keys.load_settings(audit.home)
        default = settings.get("default_key")
        if default is not None:
            if not isinstance(default, str):
                raise UsageError("default_key must be a key name")
            if not keys.key_path(audit.home, default).exists():
                raise UsageError(f"default_key {default!r} names no key held here")

    audit.check("settings", path, check)


def _trust(audit: _Audit) -> list[TrustedKey]:
    path = audit.home.trust_file
    if not path.exists():
        return []
    found: list[TrustedKey] = []

    def check() -> None:
        data = store.read_bytes(path, limit=4 << 20, what="trust store")
        doc = canonjson.loads(data.rstrip(b"\n"), max_size=4 << 20, what="trust.json")
        if doc.get("format") != keys.TRUST_FORMAT or not isinstance(doc.get("keys"), dict):
            raise UsageError(f"not a trust store ({keys.TRUST_FORMAT})")
        for name, entry in sorted(doc["keys"].items()):
            audit.count("trust entries")
            try:
                keys.validate_name(name, "trust name")
                public = PublicKey.from_text(entry["public_key"])
                if entry.get("key_id", public.key_id) != public.key_id:
                    raise UsageError("key_id does not match the public key")
                found.append(TrustedKey(name, public, str(entry.get("added", ""))))
            except MirrorError as exc:
                audit.add("problem", path, f"entry {name!r}: {exc.message}")
            except _MALFORMED:
                audit.add("problem", path, f"entry {name!r} is malformed")

    audit.check("trust stores", path, check)
    return found


# -- bundles ----------------------------------------------------------------------------


def _published(audit: _Audit) -> None:
    path = audit.home.published_file
    if path.exists():
        audit.check("registries", path, load_published, audit.home)


def _captures(audit: _Audit, known: list[TrustedKey]) -> list[Path]:
    """Verify every bundle captures.json points at; returns their parent folders."""
    path = audit.home.captures_file
    if not path.exists():
        return []
    parents: list[Path] = []
    entries: dict[str, Any] = {}

    def load() -> None:
        doc = canonjson.loads(
            store.read_bytes(path, limit=MAX_CAPTURES, what="captures.json"),
            max_size=MAX_CAPTURES,
            what="captures.json",
        )
        if not isinstance(doc.get("captures"), dict):
            raise UsageError("captures.json has no captures object")
        entries.update(doc["captures"])

    audit.check("registries", path, load)
    for url, entry in sorted(entries.items()):
        if not isinstance(entry, dict) or not isinstance(entry.get("path"), str):
            audit.add("problem", path, f"entry for {url!r} is malformed")
            continue
        folder = Path(entry["path"])
        root = entry.get("root")
        parents.append(folder.parent)
        car_file = folder.with_name(folder.name + ".car")
        if not folder.exists() and not car_file.exists():
            audit.add("warning", folder, "bundle listed in captures.json is gone (skipped)")
            continue
        for target, is_car in ((folder, False), (car_file, True)):
            if target.exists():
                audit.check("bundles", target, _bundle, audit, target, root, known, is_car)
    return parents


def _bundle(audit: _Audit, target: Path, root: Any, known: list[TrustedKey], is_car: bool) -> None:
    """The bundle must verify; a root other than the registry's is only a warning: a
    capture interrupted between swapping in the new bundle and recording it leaves a
    complete new bundle and the old record, which the next capture of the URL updates."""
    if not known:
        raise UsageError("no key held or trusted here to verify it with")
    trust = load_trust(audit.home, known)
    verdict = check_car(target, trust) if is_car else check_folder(target, trust)
    if isinstance(root, str) and CID.decode(verdict.root_cid) != CID.decode(root):
        audit.add(
            "warning",
            target,
            f"root is {verdict.root_cid}, captures.json records {root} "
            "(an interrupted capture? the next capture of this URL records it)",
        )


def _car_cache(audit: _Audit, known: list[TrustedKey]) -> None:
    directory = audit.home.car_cache_dir
    if not directory.is_dir():
        return
    for path in sorted(directory.iterdir()):
        if path.name.startswith(".") or path.suffix != ".car":
            continue
        audit.check("cached CARs", path, _cached, audit, path, known)


def _cached(audit: _Audit, path: Path, known: list[TrustedKey]) -> None:
    root = CID.decode(path.stem)
    try:
        check_car(path, load_trust(audit.home, known), root=root)
        return
    except VerificationError:
        if _signed_by_known(path, root, known):
            raise
    # Fetched with --key by a reader: no key here can judge the signature, but every
    # block must still hash to its CID.
    with car.open_car(path, root=root) as blocks:
        for entry in unixfs.walk(blocks, root):
            if entry.kind == "file":
                for _chunk in entry.chunks():
                    pass
    audit.add("warning", path, "signed by a key neither held nor trusted here; blocks checked")


def _signed_by_known(path: Path, root: CID, known: list[TrustedKey]) -> bool:
    ids = {t.key.key_id for t in known}
    with car.open_car(path, root=root) as blocks:
        for entry in unixfs.walk(blocks, root):
            if entry.kind == "file" and entry.path == MANIFEST_NAME and entry.size <= MAX_MANIFEST:
                try:
                    env = envelope.Envelope.from_bytes(b"".join(entry.chunks()))
                except MirrorError:
                    return True  # damaged: not a question of trust
                return any(s.keyid in ids for s in env.signatures)
    return True


# -- feeds, identity, follower state -------------------------------------------------------


def _own_feed(audit: _Audit, own: list[TrustedKey]) -> None:
    feed_path, head_path = feed.feed_file(audit.home), feed.head_file(audit.home)
    current: list[feed.VerifiedFeed] = []

    def check_feed() -> None:
        verified = feed.verify_feed(_read(feed_path, feed.MAX_FEED_FILE), own)
        current.append(verified)
        if feed.parse_time(verified.feed.expires, "feed expires") <= utc_now():
            audit.add("warning", feed_path, "feed expired: run `mirror feed publish` to renew it")

    def check_head() -> None:
        verified = feed.verify_head(_read(head_path, feed.MAX_HEAD), own)
        if current:
            feed_cid = unixfs.file_cid(_read(feed_path, feed.MAX_FEED_FILE)).encode()
            if CID.decode(verified.head.feed_cid) != CID.decode(feed_cid):
                audit.add(
                    "warning",
                    head_path,
                    f"head names feed version {verified.head.version}, feed.json is version "
                    f"{current[0].feed.version}: run `mirror feed publish` again",
                )

    if feed_path.exists():
        audit.check("feeds", feed_path, check_feed)
    if head_path.exists():
        audit.check("feed heads", head_path, check_head)
    history = audit.home.feed_dir / "history"
    if history.is_dir():
        for path in sorted(history.iterdir()):
            match = _FEED_HISTORY.match(path.name)
            if path.name.startswith("."):
                continue
            if match is None:
                audit.add("warning", path, "unexpected file in the feed history")
                continue
            audit.check("feed history", path, _history, path, match, own)


def _history(path: Path, match: re.Match[str], own: list[TrustedKey]) -> None:
    number = int(match.group(1))
    if match.group(2):
        version = feed.verify_head(_read(path, feed.MAX_HEAD), own).head.version
    else:
        version = feed.verify_feed(_read(path, feed.MAX_FEED_FILE), own).feed.version
    if version != number:
        raise VerificationError(f"holds version {version}, its name says {number}")


def _read(path: Path, limit: int) -> bytes:
    return store.read_bytes(path, limit=limit, what=path.name)


def _json_files(directory: Path) -> Iterator[Path]:
    if directory.is_dir():
        for path in sorted(directory.iterdir()):
            if not path.name.startswith(".") and path.suffix == ".json":
                yield path


def _feed_states(audit: _Audit) -> None:
    for path in _json_files(audit.home.state_dir / "feeds"):
        audit.check("feed states", path, _feed_state, audit.home, path)


def _feed_state(home: Home, path: Path) -> None:
    known = feed.load_remembered(home, path.stem)  # checks the name is a key id
    assert known is not None
    doc = canonjson.loads(_read(path, 64 << 10).rstrip(b"\n"), max_size=64 << 10, what=path.name)
    if doc.get("key_id") != path.stem:
        raise UsageError("names another publisher than its file name")
    if isinstance(known.version, bool) or known.version < 1:
        raise UsageError("remembered version must be a positive integer")
    if not re.match(r"^sha256:[0-9a-f]{64}$", known.payload_sha256):
        raise UsageError("payload_sha256 must be 'sha256:<64 hex>'")
    if known.feed_cid is not None:
        CID.decode(known.feed_cid)


def _identity(audit: _Audit) -> None:
    directory = identity_state.identity_dir(audit.home)
    if directory.is_dir():
        audit.check("identities", directory, identity_state.home_chain, audit.home)
        pending = directory / PENDING_NAME
        if pending.exists():
            audit.check("identities", pending, _pending_identity, pending)
    for path in _json_files(audit.home.state_dir / "identity"):
        audit.check("identity states", path, _identity_state, audit.home, path)


def _pending_identity(path: Path) -> None:
    data = _read(path, MAX_DOCUMENT * 2)
    envelope.Envelope.from_bytes(data, max_size=MAX_DOCUMENT * 2, what=path.name)


def _identity_state(home: Home, path: Path) -> None:
    doc = canonjson.loads(
        _read(path, MAX_CHAIN + 4096).rstrip(b"\n"),
        max_size=MAX_CHAIN + 4096,
        what=path.name,
    )
    anchor = PublicKey.from_text(doc["anchor"])
    if hashlib.sha256(anchor.raw).hexdigest() != path.stem:
        raise UsageError("file name is not the hash of its anchor key")
    identity_state.remembered(home, anchor)


def _follow_states(audit: _Audit) -> None:
    directory = audit.home.follow_dir
    if not directory.is_dir():
        return
    names = {p.stem for p in directory.iterdir() if p.suffix in (".json", ".journal")}
    for key_id in sorted(n for n in names if not n.startswith(".")):
        target = directory / f"{key_id}.json"

        def check(key_id: str = key_id) -> None:
            if not re.match(r"^[0-9a-f]{16}$", key_id):
                raise UsageError("file name is not a publisher key id")
            state = FollowState.load(audit.home, key_id)
            for root, (size, sha) in state.verified.items():
                CID.decode(root)
                if size < 0 or not re.match(r"^sha256:[0-9a-f]{64}$", sha):
                    raise UsageError(f"bad record for {root}")
            _journal_tail(audit, directory / f"{key_id}.journal")

        audit.check("follow states", target, check)


def _journal_tail(audit: _Audit, path: Path) -> None:
    if not path.exists():
        return
    with open(path, "rb") as f:
        size = f.seek(0, os.SEEK_END)
        f.seek(max(0, size - 1))
        last = f.read(1)
    if size and last != b"\n":
        audit.add("warning", path, "last journal line is incomplete (ignored when resuming)")


# -- leftovers of interrupted writes -------------------------------------------------------


def _leftovers(audit: _Audit, roots: list[Path]) -> None:
    seen: set[Path] = set()
    visited = 0
    scratch = audit.home.root / "tmp"
    candidates: list[Path] = []
    if scratch.is_dir() and not scratch.is_symlink():
        candidates.extend(sorted(scratch.iterdir()))
    for root in roots:
        if root in seen or not root.is_dir():
            continue
        seen.add(root)
        deep = root == audit.home.root
        for path in _walk(root, deep):
            visited += 1
            if visited > MAX_WALK:
                audit.add(
                    "warning", root, f"stopped looking for leftovers after {MAX_WALK} entries"
                )
                break
            if _LEFTOVER.match(path.name):
                candidates.append(path)
    for path in sorted(set(candidates)):
        if audit.repair:
            try:
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path)
                else:
                    path.unlink()
            except OSError as exc:
                raise store.storage_error(exc, path) from exc
            audit.add("repaired", path, "removed leftover of an interrupted write")
        else:
            audit.add("leftover", path, "left by an interrupted write (--repair removes it)")


def _walk(root: Path, deep: bool) -> Iterator[Path]:
    """Entries under root (all levels when deep, else its direct entries), no symlinks
    followed, not descending into leftovers themselves."""
    stack = [root]
    while stack:
        directory = stack.pop()
        try:
            entries = sorted(directory.iterdir())
        except OSError:
            continue
        for entry in entries:
            yield entry
            if (
                deep
                and entry.is_dir()
                and not entry.is_symlink()
                and not _LEFTOVER.match(entry.name)
            ):
                stack.append(entry)


__all__ = ["AuditReport", "Finding", "audit_home", "check_key_file"]
