#!/usr/bin/env python3
"""Title, byline and publication day, ours beside trafilatura alone, on both
development sets.

    python bench/bench_metadata.py TRAFILATURA_CHECKOUT [READABILITY_CORPUS] [--limit N]
        [--only ours|trafilatura]

(b) trafilatura's evaluation set (``tests/evaldata.json`` of a checkout of
    adbar/trafilatura): the pages annotated with a title (845), an author (538) and a
    date (728).
(a) the 64 Readability pages (default ``../shared/corpus/readability``): title (64),
    byline (50) and ``publishedTime`` (25) of ``expected-metadata.json``.
Titles and bylines are compared by the functions of ``../shared/tools/score_capture.py``
(loaded by path, as ``bench/score_extract.py`` does), days as the first ten
characters of the ISO date. Ours is ``extract_article`` on the page decoded as capture
decodes it; trafilatura alone is ``bare_extraction(with_metadata=True)``. The
evaluation set is read from the given checkout only; no test runs this script.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from bench_extraction import load_evalset
from score_extract import load_scorer

ROOT = Path(__file__).resolve().parents[1]
FIELDS = ("title", "byline", "day")


def same_day(got: str, expected: str) -> bool:
    return bool(got) and got[:10] == expected[:10]


Match = Callable[[str, str], bool]


def ours(body: bytes, url: str) -> dict[str, str]:
    from mirror.capture.charset import decode_html
    from mirror.capture.extract import extract_article
    from mirror.errors import MirrorError

    try:
        text, _encoding = decode_html(body, None)
        a = extract_article(text, url)
    except MirrorError:
        return {}
    return {"title": a.title, "byline": a.byline, "day": a.published or ""}


def theirs(body: bytes, url: str) -> dict[str, str]:
    import trafilatura

    doc = trafilatura.bare_extraction(body, url=url, with_metadata=True)
    if doc is None:
        return {}
    return {"title": doc.title or "", "byline": doc.author or "", "day": doc.date or ""}


@dataclass
class Score:
    scorer: ModuleType  # the official scorer: its normalisation and comparisons
    pages: dict[str, int] = field(default_factory=lambda: dict.fromkeys(FIELDS, 0))
    right: dict[str, int] = field(default_factory=lambda: dict.fromkeys(FIELDS, 0))

    def add(self, got: dict[str, str], expected: dict[str, str]) -> None:
        match: dict[str, Match] = {
            "title": self.scorer.same_title,
            "byline": self.scorer.same_byline,
            "day": same_day,
        }
        norm = self.scorer.norm
        for name, want in expected.items():
            if want:
                self.pages[name] += 1
                self.right[name] += match[name](norm(got.get(name)), norm(want))

    def line(self) -> str:
        return ", ".join(
            f"{name} {self.right[name]}/{self.pages[name]} "
            f"({self.right[name] / max(1, self.pages[name]):.3f})"
            for name in FIELDS
        )


def evalset_pages(checkout: Path, limit: int | None) -> Iterator[tuple[str, bytes, dict[str, str]]]:
    for url, item, body in load_evalset(checkout, limit):
        author = item.get("author")
        if isinstance(author, list):  # several authors, as trafilatura joins them
            author = "; ".join(author)
        yield url, body, {"title": item.get("title"), "byline": author, "day": item.get("date")}


def readability_pages(pages: Path) -> Iterator[tuple[str, bytes, dict[str, str]]]:
    for page in sorted(p for p in pages.iterdir() if (p / "source.html").is_file()):
        meta: dict[str, Any] = json.loads((page / "expected-metadata.json").read_text())
        expected = {"title": meta.get("title"), "byline": meta.get("byline")}
        expected["day"] = meta.get("publishedTime")
        yield f"http://fakehost/{page.name}/", (page / "source.html").read_bytes(), expected


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkout", type=Path, help="a checkout of adbar/trafilatura")
    ap.add_argument(
        "readability", type=Path, nargs="?",
        default=ROOT.parent / "shared" / "corpus" / "readability",
    )  # fmt: skip
    ap.add_argument("--limit", type=int, default=None, help="only the first N pages of (b)")
    ap.add_argument("--only", choices=("ours", "trafilatura"), default=None)
    args = ap.parse_args(argv)
    if not (args.checkout / "tests" / "evaldata.json").is_file():
        print(f"no tests/evaldata.json in {args.checkout}", file=sys.stderr)
        return 2
    scorer = load_scorer()
    if scorer is None:
        print("the scorer ../shared/tools/score_capture.py was not found", file=sys.stderr)
        return 2
    sets = [("(b)", list(evalset_pages(args.checkout, args.limit)))]
    if args.readability.is_dir():
        sets.append(("(a)", list(readability_pages(args.readability))))
    for label, pages in sets:
        for side, run in (("trafilatura", theirs), ("ours", ours)):
            if args.only not in (None, side):
                continue
            score = Score(scorer)
            for url, body, expected in pages:
                score.add(run(body, url), expected)
            print(f"{label} {side:>11}: {score.line()}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
