"""The fuzz harness itself must catch what it promises to catch."""

from __future__ import annotations

import time

import pytest

from mirror.errors import LimitExceeded
from tests.fuzz import harness
from tests.fuzz.harness import Hang, survive


def test_mirror_error_is_the_clean_failure() -> None:
    def refuse() -> None:
        raise LimitExceeded("too big")

    assert isinstance(survive(refuse), LimitExceeded)


def test_other_exceptions_fail() -> None:
    with pytest.raises(ValueError):
        survive(int, "x")


def test_hang_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(harness, "EXAMPLE_SECONDS", 0.2)
    with pytest.raises(Hang):
        survive(time.sleep, 5)


def test_unbounded_allocation_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(harness, "MAX_PEAK_BYTES", 1 << 20)
    with pytest.raises(AssertionError, match="peak"):
        survive(bytearray, 8 << 20)
