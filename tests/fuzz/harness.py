"""Shared rules for the fuzz tests (issue 5, item 5).

Every parser gets hostile bytes; the only acceptable failure is a MirrorError (a clean
one-line exit). Each example runs under a wall-clock deadline (SIGALRM, so a hang
fails the test instead of stalling CI) and a bound on Python heap growth (tracemalloc
peak), so "allocates without bound" is a finding too.

CI runs FUZZ_EXAMPLES (200) examples per target; set MIRROR_FUZZ_EXAMPLES for longer
runs, e.g. MIRROR_FUZZ_EXAMPLES=20000 pytest tests/fuzz.
"""

from __future__ import annotations

import os
import signal
import tracemalloc
from collections.abc import Callable
from typing import Any, TypeVar

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from mirror.errors import MirrorError

EXAMPLES = int(os.environ.get("MIRROR_FUZZ_EXAMPLES", "200"))
EXAMPLE_SECONDS = float(os.environ.get("MIRROR_FUZZ_SECONDS", "5"))
MAX_PEAK_BYTES = 64 << 20  # no input this small may make a parser hold 64 MiB

FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,  # the SIGALRM deadline below catches hangs; timing noise is not a bug
    database=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,
    ],
)

T = TypeVar("T")


class Hang(Exception):
    """An example ran past EXAMPLE_SECONDS."""


def _alarm(signum: int, frame: Any) -> None:
    raise Hang(f"example ran longer than {EXAMPLE_SECONDS} s")


def survive(fn: Callable[..., T], *args: Any) -> T | MirrorError:
    """fn(*args) under the deadline and memory bound; a MirrorError is returned, not
    raised (it is the clean failure); anything else propagates and fails the test."""
    previous_handler = signal.signal(signal.SIGALRM, _alarm)
    previous_timer = signal.setitimer(signal.ITIMER_REAL, EXAMPLE_SECONDS)
    tracemalloc.start()
    try:
        try:
            return fn(*args)
        except MirrorError as exc:
            assert exc.message and "\n" not in exc.message, repr(exc.message)
            return exc
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        signal.signal(signal.SIGALRM, previous_handler)
        if previous_timer[0]:  # give an outer timeout (pytest-timeout) its time back
            signal.setitimer(signal.ITIMER_REAL, previous_timer[0])
        assert peak < MAX_PEAK_BYTES, f"peak Python heap {peak} bytes"


def _apply(seed: bytes, ops: list[tuple[int, int, bytes]]) -> bytes:
    data = bytearray(seed)
    for kind, where, blob in ops:
        at = where % (len(data) + 1)
        if kind == 0 and data:  # flip bits of one byte
            data[at % len(data)] ^= blob[0] if blob and blob[0] else 0x01
        elif kind == 1:  # truncate
            del data[at:]
        elif kind == 2:  # insert
            data[at:at] = blob
        elif kind == 3:  # overwrite
            data[at : at + len(blob)] = blob
        elif kind == 4 and data:  # duplicate a slice
            data[at:at] = data[at : at + 1 + (blob[0] if blob else 7)]
    return bytes(data)


def mutations(seed: bytes, max_ops: int = 4) -> st.SearchStrategy[bytes]:
    """Bytes near a valid document: a few flips, cuts, inserts, overwrites, duplicates."""
    op = st.tuples(st.integers(0, 4), st.integers(0, 1 << 20), st.binary(max_size=16))
    return st.lists(op, min_size=1, max_size=max_ops).map(lambda ops: _apply(seed, ops))


def hostile(seed: bytes) -> st.SearchStrategy[bytes]:
    """Random bytes, or a mutation of the valid seed."""
    return st.one_of(st.binary(max_size=2048), mutations(seed))
