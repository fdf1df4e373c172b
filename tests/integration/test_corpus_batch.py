"""The 64 Readability pages of ../shared/corpus captured in ONE batch from a real HTTP
server on 127.0.0.1, discovered through an RSS feed, an Atom feed and a sitemap index;
every bundle verified with `mirror verify --json`; extraction figures computed with
the official scoring functions of ../shared/tools/score_capture.py and printed."""

from __future__ import annotations

import importlib.util
import json
import statistics
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from tests.conftest import SHARED, Mirror, corpus_or_skip
from tests.helpers.webserver import Server, respond, serve

pytestmark = pytest.mark.corpus

TARGETS = {
    "title": 0.95,
    "byline": 0.80,
    "recall_median": 0.97,
    "recall_p10": 0.90,
    "precision_median": 0.85,
}


def scorer() -> ModuleType:
    path = SHARED / "tools" / "score_capture.py"
    if not path.is_file():
        pytest.skip("../shared/tools/score_capture.py is not present")
    spec = importlib.util.spec_from_file_location("score_capture", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _rss(links: list[str]) -> bytes:
    items = "".join(f"<item><title>{i}</title><link>{u}</link></item>" for i, u in enumerate(links))
    head = '<?xml version="1.0"?><rss version="2.0"><channel><title>corpus</title>'
    return f"{head}{items}</channel></rss>".encode()


def _atom(links: list[str]) -> bytes:
    entries = "".join(
        f'<entry><id>{u}</id><link rel="alternate" href="{u}"/></entry>' for u in links
    )
    return (
        f'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom">{entries}</feed>'.encode()
    )


def _sitemap(links: list[str], tag: str = "urlset", child: str = "url") -> bytes:
    body = "".join(f"<{child}><loc>{u}</loc></{child}>" for u in links)
    ns = "http://www.sitemaps.org/schemas/sitemap/0.9"
    return f'<?xml version="1.0"?><{tag} xmlns="{ns}">{body}</{tag}>'.encode()


@pytest.fixture(scope="module")
def corpus() -> Iterator[tuple[Server, list[str]]]:
    pages = corpus_or_skip() / "readability"
    names = sorted(p.name for p in pages.iterdir() if (p / "source.html").is_file())
    with serve() as server:
        for n in names:
            server.routes[f"/{n}/source.html"] = respond((pages / n / "source.html").read_bytes())
        links = [server.url(f"/{n}/source.html") for n in names]
        xml = "application/xml"
        # Overlapping thirds: together they list every page, each source adds some.
        server.routes["/feed.xml"] = respond(_rss(links[:40]), content_type="application/rss+xml")
        server.routes["/atom.xml"] = respond(
            _atom(links[30:50]), content_type="application/atom+xml"
        )
        server.routes["/pages.xml"] = respond(_sitemap(links[45:]), content_type=xml)
        server.routes["/sitemap.xml"] = respond(
            _sitemap([server.url("/pages.xml")], "sitemapindex", "sitemap"), content_type=xml
        )
        yield server, names


def test_corpus_batch_capture_verify_and_extraction_figures(
    mirror: Mirror, corpus: tuple[Server, list[str]], tmp_path: Path
) -> None:
    sc = scorer()
    server, names = corpus
    pages = corpus_or_skip() / "readability"
    out = tmp_path / "out"
    run = mirror(
        "capture", "--allow-private", "-j", "4", "-o", out, "--json",
        "--feed", server.url("/feed.xml"), "--feed", server.url("/atom.xml"),
        "--sitemap", server.url("/sitemap.xml"),
    )  # fmt: skip
    assert run.exit_code == 0, run.stderr[-2000:]
    result = json.loads(run.stdout)
    assert result["captured"] == len(names) == 64 and result["failed"] == 0
    by_name = {a["url"].split("/")[3]: a for a in result["articles"]}
    assert set(by_name) == set(names)

    titles = bylines = with_byline = 0
    recalls: list[float] = []
    precisions: list[float] = []
    leaks: list[str] = []
    misses: list[str] = []
    for n in names:
        article = by_name[n]
        bundle = Path(article["path"])
        assert Path(article["car"]).is_file()
        v = mirror("verify", bundle, "--trust", "pub", "--json")
        assert v.exit_code == 0, f"{n}: {v.stderr}"
        meta = json.loads(v.stdout)
        assert meta["root_cid"] == article["root_cid"]
        assert {"title", "byline", "url", "captured_at", "root_cid", "publisher"} <= set(meta)
        exp = json.loads((pages / n / "expected-metadata.json").read_text(encoding="utf-8"))
        title = sc.norm(sc.find(meta, {"title"}))
        if sc.same_title(title, sc.norm(exp.get("title"))):
            titles += 1
        else:
            misses.append(f"{n}: title {title[:50]!r} vs {sc.norm(exp.get('title'))[:50]!r}")
        if exp.get("byline"):
            with_byline += 1
            if sc.same_byline(
                sc.norm(sc.find(meta, {"byline", "author", "authors"})), sc.norm(exp["byline"])
            ):
                bylines += 1
            else:
                misses.append(f"{n}: byline {meta.get('byline')!r} vs {exp['byline']!r}")
        got = (bundle / "article.md").read_text(encoding="utf-8", errors="replace")
        text = sc.Text()
        text.feed((pages / n / "expected.html").read_text(encoding="utf-8", errors="replace"))
        ca, cb = Counter(sc.toks(" ".join(text.out))), Counter(sc.toks(got))
        recalls.append(sum((ca & cb).values()) / max(1, sum(ca.values())))
        precisions.append(sum((ca & cb).values()) / max(1, sum(cb.values())))
        remote = sc.Remote()
        remote.feed((bundle / "index.html").read_text(encoding="utf-8", errors="replace"))
        if remote.bad:
            leaks.append(f"{n}: {sorted(set(remote.bad))[:5]}")

    k = len(names)
    rs = sorted(recalls)
    figures = {
        "title": titles / k,
        "byline": bylines / max(1, with_byline),
        "recall_median": statistics.median(rs),
        "recall_p10": rs[len(rs) // 10],
        "precision_median": statistics.median(precisions),
    }
    print(f"\n{k} pages: title {titles}/{k}, byline {bylines}/{with_byline}, "
          f"recall median {figures['recall_median']:.3f} p10 {figures['recall_p10']:.3f}, "
          f"precision median {figures['precision_median']:.3f}")  # fmt: skip
    for line in misses:
        print("  " + line)
    assert not leaks, leaks
    short = {m: round(figures[m], 3) for m, target in TARGETS.items() if figures[m] < target}
    assert not short, f"extraction below target: {short}"
