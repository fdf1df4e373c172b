"""What a stamped time proves against a publisher's identity history (pure, no I/O).

Threat model section 4: a key that was ever sufficient alone can keep signing bundles
that name an old identity version, and without a trusted time a reader cannot tell
them from bundles made before the rotation. Once a version requires timestamps, a
reader who knows it judges bundles accepted under an older rule by time:

- A version is superseded from the earliest verified timestamp on any later version
  (that later version, with its signatures, existed by then; a rotation stamps the
  new version when it signs it).
- A bundle accepted because a threshold of the keys of the version it names signed it
  (or, naming no version, because the first trusted key did) must carry a timestamp
  earlier than the moment its version was superseded, when the requirement applies
  to it: the named version is older than the first version requiring timestamps,
  or requires them itself and has been superseded. Otherwise: `signed-after-rotation`.
- A bundle naming the current version, when that version requires timestamps, must
  carry one (`bad-timestamp` if it does not).
- Bundles accepted because a threshold of the newest version's keys signed them
  (re-signed by current keys, `mirror identity resign`) are not judged here: the
  caller skips this check for them.

Until some known version requires timestamps nothing changes: older readers and
older bundles keep their verdicts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from .errors import VerificationError

SIGNED_AFTER_ROTATION = "signed-after-rotation"


def _utc(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True, slots=True)
class VersionTime:
    """One identity version as the time rule sees it."""

    version: int
    requires_timestamps: bool
    stamped: datetime | None  # earliest verified timestamp on the version's envelope


def superseded_at(versions: Sequence[VersionTime], number: int) -> datetime | None:
    """The earliest proven time a version after `number` existed (0: before version 1)."""
    times = [v.stamped for v in versions if v.version > number and v.stamped is not None]
    return min(times) if times else None


def check_bundle_time(
    versions: Sequence[VersionTime], named: int | None, stamped: datetime | None
) -> None:
    """Refuse a bundle accepted under version `named` (None: before the identity)
    whose time cannot be shown to precede that version's supersession.

    `versions` is the known chain, version 1 first; `stamped` the bundle's earliest
    verified timestamp. Raises VerificationError; returns None when the bundle passes.
    """
    required = [v.version for v in versions if v.requires_timestamps]
    if not required:
        return
    first_required = min(required)
    number = 0 if named is None else named
    what = "names no identity version" if named is None else f"names identity version {named}"
    current = max(v.version for v in versions)
    if number >= current:
        if stamped is None and any(v.version == current for v in versions if v.requires_timestamps):
            raise VerificationError(
                f"bundle carries no timestamp, but identity version {current} requires them",
                reason="bad-timestamp",
            )
        return
    named_requires = any(v.version == number and v.requires_timestamps for v in versions)
    if number < first_required or named_requires:
        limit = superseded_at(versions, number)
        if stamped is None:
            raise VerificationError(
                f"bundle {what}, superseded before identity version {current}, which "
                "requires timestamps, and carries no timestamp; current keys must re-sign "
                "it (`mirror identity resign`)",
                reason=SIGNED_AFTER_ROTATION,
            )
        if limit is None:
            raise VerificationError(
                f"bundle {what}, but no later version has a timestamp to show the bundle "
                "came before it; current keys must re-sign it (`mirror identity resign`)",
                reason=SIGNED_AFTER_ROTATION,
            )
        if stamped > limit:
            raise VerificationError(
                f"bundle {what} but was stamped {_utc(stamped)}, after that version was "
                f"superseded ({_utc(limit)}): signed after the rotation",
                reason=SIGNED_AFTER_ROTATION,
            )
