#!/usr/bin/env python3
"""Article extraction, ours beside trafilatura alone, on two development sets.

    python bench/bench_extraction.py TRAFILATURA_CHECKOUT [READABILITY_CORPUS]
        [--only ours|trafilatura] [--limit N] [--worse FILE]

(b) trafilatura's own evaluation set: ``tests/evaldata.json`` of a checkout of
    adbar/trafilatura names ~990 pages under ``tests/eval`` and ``tests/cache``, each
    with text that must appear ("with") and must not appear ("without"). Scored as its
    ``tests/evaluate.py`` does (whitespace-normalised substring matching; tp/fp/fn/tn
    summed over all pages; precision, recall, F1). trafilatura alone runs with the
    settings evaluate.py uses for "trafilatura" (``extract(fast=False,
    include_comments=False, include_tables=True, include_formatting=False)``); ours is
    ``extract_article`` on the page decoded as capture decodes it, scored on
    ``article.md`` (the text a reader and a search index get) and on its body text
    (article.md without the image lines, which hold alt texts, captions and credits:
    the set's annotators count captions as not the article's text, so keeping them,
    as a reader page must, costs precision there by construction).
(a) the 64 Readability pages (default ``../shared/corpus/readability``), scored with
    the functions of ``../shared/tools/score_capture.py`` (title, byline, recall
    median / p10, precision median) in process, via ``bench/score_extract.py``, and
    each page's token F1 (median and mean), which weighs what is kept and what is lost
    alike. Ours is scored on article.md and, as in (b), on its body text: Readability's
    expected texts leave out many captions and credits that article.md keeps.

The evaluation set is read from the given checkout only: it is never copied into
this project, and no test runs this script. ``--worse FILE`` writes the pages of set
(b) where ours scores below trafilatura alone, for study.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

# same keyword arguments as tests/eval_common.py's EXTRACT_OPTS, used with fast=False
TRAFILATURA_OPTS: dict[str, Any] = {
    "fast": False,
    "include_comments": False,
    "include_tables": True,
    "include_formatting": False,
}


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


@dataclass
class Matrix:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0
    seconds: float = 0.0
    failures: int = 0

    def add(self, counts: tuple[int, int, int, int]) -> None:
        self.tp += counts[0]
        self.fp += counts[1]
        self.fn += counts[2]
        self.tn += counts[3]

    def line(self) -> str:
        p = self.tp / max(1, self.tp + self.fp)
        r = self.tp / max(1, self.tp + self.fn)
        f1 = 2 * self.tp / max(1, 2 * self.tp + self.fp + self.fn)
        return (
            f"precision {p:.3f} recall {r:.3f} F1 {f1:.3f} "
            f"(tp {self.tp} fp {self.fp} fn {self.fn} tn {self.tn}, "
            f"{self.failures} failed, {self.seconds:.0f}s)"
        )


def count(item: dict[str, Any], result: str | None) -> tuple[int, int, int, int]:
    """(tp, fp, fn, tn) of one page, as tests/eval_common.py's count_item."""
    if result is None:
        return 0, 0, len(item["with"]), len(item["without"])
    res = _norm(result)
    tp = sum(1 for w in item["with"] if _norm(w) in res)
    fp = sum(1 for w in item["without"] if _norm(w) in res)
    return tp, fp, len(item["with"]) - tp, len(item["without"]) - fp


def load_evalset(checkout: Path, limit: int | None) -> list[tuple[str, dict[str, Any], bytes]]:
    tests = checkout / "tests"
    with open(tests / "evaldata.json", encoding="utf-8") as f:
        data: dict[str, dict[str, Any]] = json.load(f)
    out = []
    for url in sorted(data):
        item = data[url]
        for sub in ("cache", "eval"):
            path = tests / sub / item["file"]
            if path.is_file():
                out.append((url, item, path.read_bytes()))
                break
    return out[:limit] if limit else out


def ours_text(body: bytes, url: str) -> str:
    from mirror.capture.charset import decode_html
    from mirror.capture.extract import extract_article

    text, _encoding = decode_html(body, None)
    return extract_article(text, url).markdown


# article.md writes each image as one line of its own, `*alt — caption*`
_IMAGE_LINE = re.compile(r"^\*(?:[^*]|\\\*)+\*$", re.M)


def ours_body_text(body: bytes, url: str) -> str:
    """article.md without its image lines: the body text the set's annotators marked
    (they count captions and credits as not the article's text)."""
    return _IMAGE_LINE.sub("", ours_text(body, url))


def trafilatura_text(body: bytes, url: str) -> str | None:
    import trafilatura

    result: str | None = trafilatura.extract(body, **TRAFILATURA_OPTS)
    return result


Runner = Callable[[bytes, str], "str | None"]


def score_evalset(
    docs: list[tuple[str, dict[str, Any], bytes]], fn: Runner
) -> tuple[Matrix, dict[str, tuple[int, int, int, int]]]:
    m = Matrix()
    per: dict[str, tuple[int, int, int, int]] = {}
    for url, item, body in docs:
        t0 = time.perf_counter()
        try:
            result = fn(body, url)
        except Exception:  # a crash is a full miss, as in evaluate.py
            result = None
            m.failures += 1
        m.seconds += time.perf_counter() - t0
        c = count(item, result)
        per[url] = c
        m.add(c)
    return m, per


def readability_figures(pages: Path, only: str | None) -> list[str]:
    import score_extract as se

    sc = se.load_scorer()
    if sc is None or not pages.is_dir():
        return ["set (a): scorer or corpus not found, skipped"]
    docs = se.fetch_pages(pages)

    def theirs(html: str, url: str) -> tuple[str, str, str]:
        import trafilatura

        opts = {k: v for k, v in TRAFILATURA_OPTS.items() if k != "include_formatting"}
        doc = trafilatura.bare_extraction(html, url=url, with_metadata=True, **opts)
        return (
            str(getattr(doc, "title", None) or ""),
            str(getattr(doc, "author", None) or ""),
            str(getattr(doc, "text", None) or ""),
        )

    def ours_body(html: str, url: str) -> tuple[str, str, str]:
        title, byline, markdown = se.ours(html, url)
        return title, byline, _IMAGE_LINE.sub("", markdown)

    lines = []
    runs = (("trafilatura alone", theirs), ("ours", se.ours), ("ours, body text", ours_body))
    for label, fn in runs:
        if only and not label.startswith(only):
            continue
        fig = se.score(sc, pages, docs, fn)
        lines.append(f"(a) {label:>17}: {fig.line()}")
    return lines


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkout", type=Path, help="a checkout of adbar/trafilatura")
    ap.add_argument(
        "pages", nargs="?", type=Path, default=ROOT.parent / "shared" / "corpus" / "readability"
    )
    ap.add_argument("--only", choices=["ours", "trafilatura"])
    ap.add_argument("--limit", type=int)
    ap.add_argument("--skip-a", action="store_true", help="set (b) only")
    ap.add_argument("--worse", type=Path, help="write pages where ours is below trafilatura")
    args = ap.parse_args(argv)

    if not args.skip_a:
        for line in readability_figures(args.pages, args.only):
            print(line, flush=True)
    docs = load_evalset(args.checkout, args.limit)
    results = {}
    runs = (
        ("trafilatura alone", trafilatura_text),
        ("ours", ours_text),
        ("ours, body text", ours_body_text),
    )
    for label, fn in runs:
        if args.only and not label.startswith(args.only):
            continue
        m, per = score_evalset(docs, fn)
        results[label] = per
        print(f"(b) {label:>17}: {len(docs)} pages, {m.line()}", flush=True)
    if args.worse and len(results) == 3:
        theirs, mine = results["trafilatura alone"], results["ours, body text"]
        rows = []
        for url, item, _body in docs:
            t, o = theirs[url], mine[url]
            # lost a "with" chunk, or let through a "without" chunk trafilatura dropped
            if o[0] < t[0] or o[1] > t[1]:
                rows.append({"url": url, "file": item["file"], "theirs": t, "ours": o})
        args.worse.write_text(json.dumps(rows, indent=1), encoding="utf-8")
        print(f"{len(rows)} pages where ours is below trafilatura: {args.worse}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
