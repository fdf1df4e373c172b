"""Shortcuts taken for batch speed give the same answers as the plain path: cached URL
and host checks (short and long values, cold and warm), a bundle whose root pass
also writes its CAR, and the day in a page's text looked for before the whole text is
read."""

from __future__ import annotations

import datetime
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from mirror.bundle import write_bundle
from mirror.capture import markup, metadata, sanitize
from mirror.capture.days import day_in_text
from mirror.ipld.car import write_car
from mirror.keys import SigningKey
from mirror.signer import Signer

BASE = "https://news.example.org/2024/story/"


@given(st.text(max_size=40))
def test_cached_checks_match_the_uncached_ones(value: str) -> None:
    for _ in range(2):  # a cold call, then the remembered answer
        assert sanitize.clean_url(value, BASE) == sanitize._clean_url(value, BASE)
        assert sanitize.safe_link(value, BASE) == sanitize._safe_link(value, BASE)
        assert sanitize.is_local_host(value) == sanitize._is_local_host(value)


def test_long_values_are_checked_without_the_cache() -> None:
    long_ok = "/a" * 2000
    assert sanitize.safe_link(long_ok, BASE) == "https://news.example.org" + long_ok
    assert sanitize.safe_link("http://127.0.0.1/" + "x" * 3000, BASE) is None
    assert sanitize.clean_url("https://x.example/" + "<" * 3000, BASE) is None
    before = sanitize._SAFE_LINK.cached.cache_info().currsize
    sanitize.safe_link("/b" * 2000, BASE)
    assert sanitize._SAFE_LINK.cached.cache_info().currsize == before
    hosts = sanitize._IS_LOCAL_HOST.cached.cache_info().currsize
    assert sanitize.is_local_host("h" * 3000 + ".example") is False
    assert sanitize.is_local_host("127.0.0." + "0" * 3000 + "1") is True
    assert sanitize._IS_LOCAL_HOST.cached.cache_info().currsize == hosts


def test_bundle_root_pass_writes_the_car(tmp_path: Path) -> None:
    key = SigningKey("t", Ed25519PrivateKey.generate())
    content: dict[str, bytes | Path] = {"index.html": b"<p>hi</p>", "assets/a.bin": b"x" * 5000}
    car = tmp_path / "b.car"
    result = write_bundle(
        tmp_path / "b",
        content,
        article={"title": "t"},
        capture={},
        signer=Signer.single(key),
        car_out=car,
    )
    assert car.is_file() and not (tmp_path / "b" / "b.car").exists()
    again = write_car(tmp_path / "b", tmp_path / "again.car")
    assert again.root == result.root
    assert car.read_bytes() == (tmp_path / "again.car").read_bytes()


def test_the_control_characters_tested_first_are_the_ones_the_regex_removes() -> None:
    every = "".join(chr(c) for c in range(0x10000))
    assert set(markup._CONTROLS) == set(markup._CONTROL.findall(every))


@given(st.integers(min_value=0, max_value=20_000), st.integers(min_value=1, max_value=400))
def test_the_text_day_read_in_steps_is_the_day_of_the_whole_text(at: int, size: int) -> None:
    filler = "word " * (at // 5)
    paragraphs = "".join(f"<p>{'x' * size} {i}</p>" for i in range(60))
    body = f"<p>{filler}</p><p>Published 12 March 2024</p>{paragraphs}<p>01.02.2021</p>"
    tree = markup.parse_page(f"<html><body>{body}</body></html>")
    assert tree is not None
    whole = " ".join(tree.find(".//body").text_content().split())
    expected = day_in_text(whole, before=datetime.date.today())
    assert metadata._text_day(tree) == expected
