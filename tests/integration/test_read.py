"""`mirror read`: a verified copy under a green verdict bar, a tampered one refused in red;
checked in headless Chromium with zero requests leaving 127.0.0.1."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.browser import chromium, visit
from tests.integration.test_export import Publisher, make_publisher

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
START_TIMEOUT = 30.0
MIRROR = Path(__file__).resolve().parents[2] / "mirror.py"


@pytest.fixture
def publisher(tmp_path: Path) -> Publisher:
    return make_publisher(tmp_path)


@contextmanager
def reading(
    pub: Publisher, target: Path, *extra: str
) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """Run `mirror read TARGET --no-open` and yield (process, first stdout line)."""
    env = {**os.environ, "MIRROR_HOME": str(pub.home), "MIRROR_PASSPHRASE": "x"}
    proc = subprocess.Popen(
        [sys.executable, str(MIRROR), "read", str(target), "--trust", "pub", "--no-open", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], START_TIMEOUT)
        assert ready, "mirror read printed nothing in time"
        yield proc, proc.stdout.readline().strip()
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)


def stop(proc: subprocess.Popen[str]) -> tuple[int, str]:
    """Ctrl-C: the server stops cleanly within a deadline."""
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=15)
    return proc.returncode, err


def fetch(
    url: str, method: str = "GET", host: str | None = None
) -> tuple[int, dict[str, str], bytes]:
    req = urllib.request.Request(url, method=method)
    if host:
        req.add_header("Host", host)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


@pytest.mark.browser
def test_verified_and_refused_in_chromium(publisher: Publisher, tmp_path: Path) -> None:
    good = tmp_path / "article.html"
    assert publisher.run("export", str(publisher.bundle), "-o", str(good)).exit_code == 0
    tampered = tmp_path / "tampered.html"
    tampered.write_bytes(good.read_bytes().replace("Москва".encode(), "Мосвка".encode(), 1))

    with chromium() as browser:
        with reading(publisher, good) as (proc, url):
            assert url.startswith("http://127.0.0.1:")
            status, headers, body = fetch(url)
            assert status == 200
            assert b'data-verdict="verified"' in body
            assert b"signed by pub" in body and b"captured" in body
            assert "default-src 'none'" in headers["Content-Security-Policy"]
            visit_ok = visit(browser, url, screenshot=ARTIFACTS / "read-verified.png")
            assert visit_ok.errors == []
            assert visit_ok.external == []
            assert any(u.endswith("/article/index.html") for u in visit_ok.requested)
            code, err = stop(proc)
            assert code == 0, err
            assert "verified: signed by pub" in err

        with reading(publisher, tampered) as (proc, url):
            status, _, body = fetch(url)
            assert b'data-verdict="refused"' in body
            assert "Мосвка".encode() not in body  # nothing of the content is shown
            assert fetch(url + "article/index.html")[0] == 404
            visit_bad = visit(browser, url, screenshot=ARTIFACTS / "read-refused.png")
            assert visit_bad.external == []
            code, err = stop(proc)
            assert code == 3
            assert "refused" in err
    assert (ARTIFACTS / "read-verified.png").stat().st_size > 1000
    assert (ARTIFACTS / "read-refused.png").stat().st_size > 1000


def test_bundle_folder_json_and_server_rules(publisher: Publisher) -> None:
    with reading(publisher, publisher.bundle, "--json", "--serve-seconds", "30") as (proc, first):
        assert first == "{"
        assert proc.stdout is not None
        lines = [first]
        while lines[-1] != "}":
            lines.append(proc.stdout.readline().rstrip("\n"))
        verdict = json.loads("\n".join(lines))
        assert verdict["ok"] is True and verdict["root_cid"] == publisher.cid
        url = verdict["url"]
        assert fetch(url)[0] == 200
        page = fetch(url + "article/index.html")
        assert page[0] == 200 and b"<article>" in page[2]
        assert "sandbox" in page[1]["Content-Security-Policy"]
        assert fetch(url + "article/manifest.json")[0] == 404  # only the page and images
        assert fetch(url + "../../etc/passwd")[0] == 404
        assert fetch(url, method="POST")[0] == 405
        port = url.split(":")[2].rstrip("/")
        assert fetch(url, host=f"evil.example:{port}")[0] == 421  # DNS rebinding refused
        code, _ = stop(proc)
        assert code == 0


def test_serve_seconds_stops_by_itself(publisher: Publisher, tmp_path: Path) -> None:
    env = {**os.environ, "MIRROR_HOME": str(publisher.home)}

    def run(target: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                sys.executable,
                str(MIRROR),
                "read",
                str(target),
                "--trust",
                "pub",
                "--no-open",
                "--serve-seconds",
                "0.5",
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=30,
            check=False,
        )

    done = run(publisher.bundle)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("http://127.0.0.1:")
    missing = run(tmp_path / "no-such-file")  # neither a file nor a CID
    assert missing.returncode == 2
    assert "not a CID" in missing.stderr
    assert "Traceback" not in missing.stderr
