#!/usr/bin/env python3
"""Extraction time on pages built to make it slow, ours beside trafilatura alone.

    python bench/bench_hostile_pages.py [--blocks 2000] [--growth 4]

Each page repeats one unit (a paragraph written again and again, paragraphs that
differ, layout tables that differ or not, figures, one picture shown everywhere,
lists, links, headings, boxes of loose text) in the page's ``<body>``; it is
extracted at N and at GROWTH x N units. Work that grows with the page's size grows
by about GROWTH; work that grows with its square, by GROWTH squared: that is the
figure to watch, since a page of 20 MB holds hundreds of thousands of blocks. Ours
is ``extract_article`` (the whole of capture's extraction); trafilatura alone is
``extract(fast=False)``, its default cascade, whose fallback extractors compare
blocks in quadratic time on some shapes (ours runs trafilatura without them past
10,000 blocks).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import trafilatura  # noqa: E402

from mirror.capture.extract import extract_article  # noqa: E402

URL = "https://news.example.org/2024/story.html"
WORDS = "word " * 12
UNITS = {
    "same paragraph": "<p>The same line of a hostile page, written again and again.</p>",
    "paragraphs": "<p>Paragraph {i} with some words in a line of text here.</p>",
    "layout tables": f"<table><tr><td><p>{WORDS}{{i}}</p><p>{WORDS}</p></td></tr></table>",
    "same table": f"<table><tr><td><p>{WORDS}</p><p>{WORDS}</p></td></tr></table>",
    "figures": "<p>Text {i} of the article goes on.</p><figure><img src='/a{i}.jpg'"
    " alt='picture {i} of a thing'><figcaption>Caption {i}</figcaption></figure>",
    "one picture": "<p>Text {i} of the article goes on.</p><img src='/a.jpg' alt='the same'>",
    "lists": "<ul><li>Item {i} of a list that reads as prose</li><li>more {i} words</li>"
    "</ul><p>Paragraph {i} of the article with enough words.</p>",
    "links": "<p>See <a href='/story-{i}'>story number {i} here</a> and more text.</p>",
    "headings": "<h2>Heading {i}</h2><p>Paragraph {i} under it, with words.</p>",
    "boxes": "<div class='b'><div>Loose text {i} in a box<br>and more</div></div>",
}


def page(unit: str, n: int) -> str:
    body = "".join(unit.replace("{i}", str(i)) for i in range(n))
    return f"<html><head><title>Story</title></head><body>{body}</body></html>"


def seconds(fn: Callable[[str], object], html: str) -> float:
    t0 = time.perf_counter()
    fn(html)
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--blocks", type=int, default=2000, help="units on the smaller page")
    ap.add_argument("--growth", type=int, default=4, help="how many times larger the other")
    args = ap.parse_args(argv)

    sides: dict[str, Callable[[str], object]] = {
        "ours": lambda html: extract_article(html, URL),
        "trafilatura": lambda html: trafilatura.extract(html, fast=False, include_tables=True),
    }
    small, large = args.blocks, args.blocks * args.growth
    print(f"units {small} -> {large}: seconds, and how much more the larger page took")
    for name, unit in UNITS.items():
        cells = []
        for side, fn in sides.items():
            a, b = seconds(fn, page(unit, small)), seconds(fn, page(unit, large))
            cells.append(f"{side} {a:6.2f} -> {b:7.2f} s (x{b / max(a, 1e-9):5.1f})")
        print(f"{name:>15}: " + "   ".join(cells), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
