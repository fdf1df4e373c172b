#!/usr/bin/env python3
"""Fast in-process scorer for article extraction, beside trafilatura alone.

Serves a corpus of pages (PAGES_DIR/<name>/{source.html,expected-metadata.json,
expected.html}, e.g. ../shared/corpus/readability) over a local HTTP server, runs
``extract_article`` on each page and scores it with the same functions as the
official capture scorer (../shared/tools/score_capture.py, loaded by path), then does
the same for trafilatura alone (default options, its own metadata) and prints both
figure lines with their extraction times.

usage: python bench/score_extract.py [PAGES_DIR] [--only ours|baseline] [--quiet]
"""

from __future__ import annotations

import argparse
import http.server
import importlib.util
import os
import statistics
import sys
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_PAGES = ROOT.parent / "shared" / "corpus" / "readability"
DEFAULT_SCORER = ROOT.parent / "shared" / "tools" / "score_capture.py"
TARGET = {
    "title": 0.95,
    "byline": 0.80,
    "recall_median": 0.97,
    "recall_p10": 0.90,
    "precision_median": 0.85,
}

# (title, byline, markdown) for one page
Extractor = Callable[[str, str], tuple[str, str, str]]


def load_scorer(path: Path | None = None) -> ModuleType | None:
    """The official scorer as a module, or None when it is not on this machine."""
    path = path or Path(os.environ.get("MIRROR_SCORER", DEFAULT_SCORER))
    if not path.is_file():
        return None
    spec = importlib.util.spec_from_file_location("score_capture", path)
    if spec is None or spec.loader is None:
        return None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass
class Figures:
    pages: int = 0
    titles: int = 0
    bylines: int = 0
    by_n: int = 0
    recalls: list[float] = field(default_factory=list)
    precisions: list[float] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def value(self, name: str) -> float:
        rs = sorted(self.recalls) or [0.0]
        return {
            "title": self.titles / max(1, self.pages),
            "byline": self.bylines / max(1, self.by_n),
            "recall_median": statistics.median(rs),
            "recall_p10": rs[len(rs) // 10],
            "precision_median": statistics.median(self.precisions or [0.0]),
        }[name]

    def f1s(self) -> list[float]:
        """Each page's token F1: precision and recall in one figure, so that keeping
        less (a higher precision) and keeping more (a higher recall) weigh alike."""
        pairs = zip(self.precisions, self.recalls, strict=True)
        return [2 * p * r / (p + r) if p + r else 0.0 for p, r in pairs]

    def short(self) -> list[str]:
        return [f"{m} {self.value(m):.2f}<{t}" for m, t in TARGET.items() if self.value(m) < t]

    def line(self) -> str:
        return (
            f"title {self.titles}/{self.pages}, byline {self.bylines}/{self.by_n}, "
            f"recall median {self.value('recall_median'):.3f} p10 {self.value('recall_p10'):.3f}, "
            f"precision median {self.value('precision_median'):.3f}, "
            f"F1 median {statistics.median(self.f1s() or [0.0]):.4f} "
            f"mean {statistics.fmean(self.f1s() or [0.0]):.4f}, "
            f"extraction {self.seconds:.1f}s"
        )


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def serve(directory: Path) -> Iterator[str]:
    """A real HTTP server on 127.0.0.1 for the corpus; yields its base URL."""
    handler = partial(_QuietHandler, directory=str(directory))
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{srv.server_address[1]}"
    finally:
        srv.shutdown()
        thread.join(timeout=10)


def fetch_pages(pages: Path) -> list[tuple[str, str, str]]:
    """(name, url, html) for every page, fetched over local HTTP and decoded as UTF-8."""
    names = sorted(n for n in os.listdir(pages) if (pages / n / "source.html").exists())
    out = []
    with serve(pages) as base:
        for n in names:
            url = f"{base}/{n}/source.html"
            with urllib.request.urlopen(url, timeout=30) as r:
                out.append((n, url, r.read().decode("utf-8", errors="replace")))
    return out


def score(
    sc: ModuleType, pages: Path, docs: list[tuple[str, str, str]], extract: Extractor
) -> Figures:
    fig = Figures(pages=len(docs))
    for n, url, html in docs:
        t0 = time.perf_counter()
        try:
            title, byline, md = extract(html, url)
        except Exception as e:  # a failing page is scored as empty, not fatal
            title, byline, md = "", "", ""
            fig.problems.append(f"{n}: extraction failed: {type(e).__name__}: {e}"[:160])
        fig.seconds += time.perf_counter() - t0
        exp = _load_json(pages / n / "expected-metadata.json")
        t, et = sc.norm(title), sc.norm(exp.get("title"))
        if sc.same_title(t, et):
            fig.titles += 1
        else:
            fig.problems.append(f"{n}: title {t[:60]!r} vs {et[:60]!r}")
        if exp.get("byline"):
            fig.by_n += 1
            a, ea = sc.norm(byline), sc.norm(exp["byline"])
            if sc.same_byline(a, ea):
                fig.bylines += 1
            else:
                fig.problems.append(f"{n}: byline {a[:60]!r} vs {ea[:60]!r}")
        ep = pages / n / "expected.html"
        if ep.exists():
            p = sc.Text()
            p.feed(ep.read_text(encoding="utf-8", errors="replace"))
            ca, cb = Counter(sc.toks(" ".join(p.out))), Counter(sc.toks(md))
            common = sum((ca & cb).values())
            rec = common / max(1, sum(ca.values()))
            prec = common / max(1, sum(cb.values()))
            fig.recalls.append(rec)
            fig.precisions.append(prec)
            if rec < 0.9 or prec < 0.6:
                fig.problems.append(f"{n}: recall {rec:.2f} precision {prec:.2f}")
        else:
            fig.recalls.append(0.0)
            fig.precisions.append(0.0)
    return fig


def _load_json(path: Path) -> dict[str, Any]:
    import json

    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    return data if isinstance(data, dict) else {}


def ours(html: str, url: str) -> tuple[str, str, str]:
    from mirror.capture.extract import extract_article

    a = extract_article(html, url)
    return a.title, a.byline, a.markdown


def baseline(html: str, url: str) -> tuple[str, str, str]:
    import trafilatura

    doc = trafilatura.bare_extraction(html, url=url, with_metadata=True)

    def field(name: str) -> str:
        return str(getattr(doc, name, None) or "")

    return field("title"), field("author"), field("text")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("pages", nargs="?", type=Path, default=DEFAULT_PAGES)
    ap.add_argument("--only", choices=["ours", "baseline"])
    ap.add_argument("--quiet", action="store_true", help="figure lines only")
    args = ap.parse_args(argv)
    sc = load_scorer()
    if sc is None:
        print("official scorer not found (../shared/tools/score_capture.py): skipped")
        return 0
    if not args.pages.is_dir():
        print(f"corpus not found at {args.pages}: skipped")
        return 0
    sys.path.insert(0, str(ROOT))
    docs = fetch_pages(args.pages)
    status = 0
    runs = [("trafilatura alone", baseline), ("ours", ours)]
    for label, fn in runs:
        if (
            args.only
            and not label.startswith(args.only[:4])
            and not (args.only == "baseline" and label.startswith("trafilatura"))
        ):
            continue
        fig = score(sc, args.pages, docs, fn)
        if not args.quiet:
            for p in fig.problems:
                print(f"  [{label}] {p}")
        short = fig.short()
        print(f"{label:>18}: {fig.line()}" + (f"; short: {', '.join(short)}" if short else ""))
        if label == "ours" and short:
            status = 1
    if not args.only:
        print(speed_line(docs))
    return status


def speed_line(docs: list[tuple[str, str, str]], rounds: int = 2) -> str:
    """Time of extract_article beside trafilatura.extract with default options, interleaved
    so load on a shared machine hits both alike."""
    import trafilatura

    from mirror.capture.extract import extract_article

    theirs = mine = 0.0
    for _ in range(rounds):
        t0 = time.perf_counter()
        for _n, url, html in docs:
            trafilatura.extract(html, url=url)
        t1 = time.perf_counter()
        for _n, url, html in docs:
            with suppress(Exception):  # a failing page is timed like any other
                extract_article(html, url)
        t2 = time.perf_counter()
        theirs, mine = theirs + t1 - t0, mine + t2 - t1
    return (
        f"{'speed':>18}: trafilatura.extract {theirs / rounds:.2f}s, "
        f"extract_article {mine / rounds:.2f}s per pass over {len(docs)} pages, "
        f"ratio {mine / max(theirs, 1e-9):.2f} (limit 1.3)"
    )


if __name__ == "__main__":
    sys.exit(main())
