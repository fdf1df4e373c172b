"""The one home of time: the clock, and the one text form of a moment in signed data.

Signed documents carry UTC times as `YYYY-MM-DDTHH:MM:SSZ`. Code that needs "now"
takes a `Clock` (a function returning an aware UTC datetime) so tests and the
verdict corpus can pin it; `system_clock` is the real one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]
TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def system_clock() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def utc_now() -> datetime:
    return system_clock()


def format_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(TIME_FORMAT)


def parse_time(text: str) -> datetime:
    """A signed time; ValueError when `text` is not exactly that form."""
    return datetime.strptime(text, TIME_FORMAT).replace(tzinfo=UTC)


def now_text(clock: Clock = system_clock) -> str:
    return format_time(clock())


def fixed_clock(moment: datetime) -> Clock:
    """A clock stopped at `moment` (verdict corpus cases, golden vectors)."""
    return lambda: moment


def sha256_tag(data: bytes) -> str:
    """Content ids carry their algorithm: `sha256:<hex>`."""
    return "sha256:" + hashlib.sha256(data).hexdigest()
