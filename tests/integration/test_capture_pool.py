"""A batch extracting on worker processes writes the same bundles as one extracting
in-process; a worker that dies, hangs or answers nonsense fails only the article it
was extracting, and the batch goes on."""

from __future__ import annotations

import base64
import json
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mirror import keys
from mirror.capture import pipeline
from mirror.capture.fetch import FetchPolicy
from mirror.capture.workers import ExtractWorkers
from mirror.config import Home
from mirror.signer import Signer
from tests.conftest import PASSPHRASE, Mirror
from tests.helpers.webserver import Server, respond, serve

PAGES = Path(__file__).resolve().parent.parent / "fixtures" / "pages"
NAMES = sorted(p.name for p in PAGES.iterdir() if (p / "source.html").is_file())
EMPTY = b"<!doctype html><html><head><title>t</title></head><body></body></html>"
ODD_WORKER = (sys.executable, "-m", "tests.helpers.odd_worker")  # misbehaves on marked pages


@pytest.fixture
def site() -> Iterator[Server]:
    routes: dict[str, object] = {
        f"/{n}/": respond((PAGES / n / "source.html").read_bytes()) for n in NAMES
    }
    routes["/empty/"] = respond(EMPTY)
    for odd in ("crash", "hang", "liar"):
        routes[f"/{odd}/"] = respond((PAGES / NAMES[0] / "source.html").read_bytes())
    with serve(routes) as server:  # type: ignore[arg-type]
        yield server


def manifest_of(bundle: Path) -> dict:
    envelope = json.loads((bundle / "manifest.json").read_bytes())
    return json.loads(base64.b64decode(envelope["payload"]))


def _batch(
    mirror: Mirror,
    urls: list[str],
    out: Path,
    workers: ExtractWorkers | None,
    budget: float = 55.0,
) -> pipeline.BatchReport:
    settings = pipeline.CaptureSettings(policy=FetchPolicy(allow_private=True), page_budget=budget)
    return pipeline.run_batch(
        [(u, out / pipeline.bundle_name(u)) for u in urls],
        signer=Signer.single(keys.load_signing_key(Home(mirror.home), "pub", PASSPHRASE)),
        fetcher=pipeline.batch_fetcher(settings.policy),
        settings=settings,
        jobs=3,
        extract=workers,
    )


def test_pool_gives_the_same_articles_titles_and_errors_as_in_process(
    mirror: Mirror, site: Server, tmp_path: Path
) -> None:
    urls = [site.url(f"/{n}/") for n in NAMES] + [site.url("/empty/")]
    here = _batch(mirror, urls, tmp_path / "here", None)
    with ExtractWorkers(2) as workers:
        pooled = _batch(mirror, urls, tmp_path / "pooled", workers)
    for a, b in zip(here.outcomes, pooled.outcomes, strict=True):
        assert (a.url, a.status, a.error, a.exit_code) == (b.url, b.status, b.error, b.exit_code)
        if a.status == "captured":
            assert a.path and b.path
            assert (a.path / "article.md").read_bytes() == (b.path / "article.md").read_bytes()
            # title, byline, dates...: the whole article object of the signed manifest
            assert manifest_of(a.path)["article"] == manifest_of(b.path)["article"]
    assert here.count("captured") == len(NAMES)
    empty = here.outcomes[-1]  # a worker's UsageError comes back as the same error
    assert empty.exit_code == 2 and "no article text found" in (empty.error or "")


def test_a_worker_that_dies_fails_only_its_article(
    mirror: Mirror, site: Server, tmp_path: Path
) -> None:
    urls = [site.url(f"/{n}/") for n in NAMES]
    urls.insert(1, site.url("/crash/"))
    with ExtractWorkers(2, command=ODD_WORKER) as workers:
        report = _batch(mirror, urls, tmp_path / "out", workers)
    by_url = {o.url: o for o in report.outcomes}
    crashed = by_url.pop(site.url("/crash/"))
    assert crashed.status == "failed" and crashed.exit_code == 1
    assert "ended its process" in (crashed.error or "")
    assert all(o.status == "captured" for o in by_url.values()), [o.error for o in by_url.values()]
    assert report.seconds < 60  # retried once alone, never waited on forever


def test_small_batches_and_single_cores_extract_in_process() -> None:
    assert pipeline.extract_processes(jobs=4, articles=pipeline.POOL_MIN_ARTICLES - 1) == 0
    assert pipeline.extract_processes(jobs=1, articles=100) == 0
    assert pipeline.extract_processes(jobs=4, articles=100) in (0, *range(2, 5))


def test_a_worker_past_its_wait_fails_its_article_and_is_ended(
    mirror: Mirror, site: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pipeline, "_MIN_EXTRACT_WAIT", 4.0)
    urls = [site.url(f"/{n}/") for n in NAMES]
    urls.insert(0, site.url("/hang/"))
    started = time.monotonic()
    with ExtractWorkers(2, command=ODD_WORKER) as workers:
        hung_pids = workers.pids
        report = _batch(mirror, urls, tmp_path / "out", workers, budget=4.0)
    assert time.monotonic() - started < 30  # not the 600 s the worker sleeps
    by_url = {o.url: o for o in report.outcomes}
    hung = by_url.pop(site.url("/hang/"))
    assert hung.status == "failed" and hung.exit_code == 5
    assert "took longer than 4 s" in (hung.error or "")
    assert all(o.status == "captured" for o in by_url.values()), [o.error for o in by_url.values()]
    assert not [p for p in hung_pids if Path(f"/proc/{p}").exists()]  # killed, not left


def test_a_worker_answering_nonsense_fails_its_article_and_is_ended(
    mirror: Mirror, site: Server, tmp_path: Path
) -> None:
    urls = [site.url(f"/{n}/") for n in NAMES]
    urls.insert(1, site.url("/liar/"))
    with ExtractWorkers(2, command=ODD_WORKER) as workers:
        first = set(workers.pids)
        report = _batch(mirror, urls, tmp_path / "out", workers)
        assert len(workers.pids) == 2 and first - set(workers.pids)  # the liar was replaced
    by_url = {o.url: o for o in report.outcomes}
    liar = by_url.pop(site.url("/liar/"))
    assert liar.status == "failed" and liar.exit_code == 1
    assert "answered nonsense" in (liar.error or "")
    assert all(o.status == "captured" for o in by_url.values()), [o.error for o in by_url.values()]
    assert not (tmp_path / "out" / pipeline.bundle_name(site.url("/liar/"))).exists()


def test_workers_never_see_the_passphrase_nor_the_terminals_ctrl_c(
    site: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MIRROR_PASSPHRASE", "do not hand this out")
    with ExtractWorkers(1) as workers:
        (pid,) = workers.pids
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        assert not [v for v in environ if v.startswith(b"MIRROR_PASSPHRASE=")]
        assert os.getpgid(pid) == pid  # its own group: a terminal's Ctrl-C is not sent to it
        page = (PAGES / NAMES[0] / "source.html").read_text()
        article = workers(page, site.url(f"/{NAMES[0]}/"), 30.0)
        assert article.title and workers.pids == (pid,)
    assert not Path(f"/proc/{pid}").exists() or _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
