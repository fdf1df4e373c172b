"""`mirror capture` argument handling: help, usage errors, exit codes, output modes."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest

from mirror.capture.pipeline import bundle_name
from mirror.cli.capture import capture_options
from tests.conftest import Mirror
from tests.helpers.webserver import respond, serve

PAGE = (
    Path(__file__).resolve().parent.parent / "fixtures" / "pages" / "ebb-org" / "source.html"
).read_bytes()


def test_help_documents_proxy_resolution_exit_codes_and_default_output(mirror: Mirror) -> None:
    run = mirror("capture", "--help")
    assert run.exit_code == 0
    text = " ".join(run.stdout.split())
    assert (
        "socks5h://" in text
        and "resolved by the proxy" in text
        and "literal IP addresses only" in text
    )
    assert "exits 0 when every article" in text and "4 when some failed" in text
    assert "./captures/" in text
    for option in ("--feed", "--sitemap", "--urls-file", "--jobs", "--allow-private", "--proxy",
                   "--no-source", "--key-name", "--json", "--output"):  # fmt: skip
        assert option in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "at least one URL"),
        (("file:///etc/passwd",), "only http and https"),
        (("http://user:pw@example.org/",), "credentials"),
        (("--proxy", "ftp://proxy:21", "http://example.org/"), "unsupported proxy"),
        (("-j", "0", "http://example.org/"), "0"),
    ],
)
def test_usage_errors_exit_2_with_one_line(
    mirror: Mirror, tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    run = mirror("capture", *args, "-o", tmp_path / "o")
    assert run.exit_code == 2, run.stderr
    assert message in run.stderr and "Traceback" not in run.stderr
    assert run.stdout == "" and not (tmp_path / "o").exists()


def test_wrong_passphrase_stops_before_any_fetch(mirror: Mirror, tmp_path: Path) -> None:
    with serve({"/a": respond(PAGE)}) as server:
        run = mirror("capture", "--allow-private", server.url("/a"), "-o", tmp_path / "o",
                     env={"MIRROR_PASSPHRASE": "wrong"})  # fmt: skip
        assert server.requests == []
    assert run.exit_code == 2 and not (tmp_path / "o").exists()


def test_wrong_passphrase_stops_a_feed_batch_before_any_fetch(
    mirror: Mirror, tmp_path: Path
) -> None:
    # a feed batch starts its extraction workers before the key derivation: a wrong
    # passphrase still fetches nothing, writes nothing and leaves no worker behind
    with serve(
        {"/feed.xml": respond(b"<rss></rss>", content_type="application/rss+xml")}
    ) as server:
        run = mirror("capture", "--allow-private", "--feed", server.url("/feed.xml"),
                     "-o", tmp_path / "o", env={"MIRROR_PASSPHRASE": "wrong"})  # fmt: skip
        assert server.requests == []
    assert run.exit_code == 2 and len(run.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()
    ours = f"MIRROR_HOME={mirror.home}".encode()
    workers = [
        p
        for p in Path("/proc").glob("[0-9]*")
        if b"mirror.capture.workers" in _read(p / "cmdline") and ours in _read(p / "environ")
    ]
    assert workers == []


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:  # ended meanwhile
        return b""


def test_default_output_is_a_folder_under_captures(
    mirror: Mirror, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with serve({"/news/a-story.html": respond(PAGE)}) as server:
        url = server.url("/news/a-story.html")
        run = mirror("capture", "--allow-private", url, "--json")
    assert run.exit_code == 0, run.stderr
    article = json.loads(run.stdout)["articles"][0]
    name = bundle_name(url)
    assert name.startswith("news-a-story-") and Path(article["path"]) == Path("captures") / name
    assert (tmp_path / "captures" / name / "manifest.json").is_file()
    assert (tmp_path / "captures" / f"{name}.car").is_file()


def test_bundle_names_are_stable_and_distinct() -> None:
    a = bundle_name("https://example.org/2024/05/big-story/")
    assert a == bundle_name("https://example.org/2024/05/big-story/")
    assert a.startswith("2024-05-big-story-")
    assert a != bundle_name("https://example.org/2024/05/big-story/?page=2")
    assert bundle_name("https://example.org/").startswith("example-org-")
    assert "/" not in bundle_name("https://example.org/%2F..%2F../x") and ".." not in bundle_name(
        "https://e.org/../.."
    )


def test_capture_options_decorator_gives_another_command_every_option() -> None:
    seen: dict[str, object] = {}

    @click.command()
    @capture_options
    def other(**kwargs: object) -> None:
        seen.update(kwargs)

    from click.testing import CliRunner

    result = CliRunner().invoke(
        other, ["-j", "2", "--no-source", "--proxy", "socks5h://127.0.0.1:9050"]
    )
    assert result.exit_code == 0, result.output
    assert set(seen) == set(
        [
            "output",
            "feeds",
            "sitemaps",
            "urls_file",
            "jobs",
            "allow_private",
            "proxy",
            "no_source",
            "key_name",
            "processes",
            "tsa",
            "tsa_optional",
        ]
    )
    assert seen["jobs"] == 2 and seen["no_source"] is True


def test_batch_with_worker_processes_captures_every_article(mirror: Mirror, tmp_path: Path) -> None:
    with serve({f"/a{i}": respond(PAGE) for i in range(6)}) as server:
        listing = tmp_path / "urls.txt"
        listing.write_text("".join(server.url(f"/a{i}") + "\n" for i in range(6)))
        run = mirror(
            "capture", "--allow-private", "--urls-file", listing, "--processes", "2",
            "-o", tmp_path / "out",
        )  # fmt: skip
    assert run.exit_code == 0, run.stderr
    roots = run.stdout.split()
    assert len(roots) == 6 and all(r.startswith("bafy") for r in roots)
    for bundle in (tmp_path / "out").iterdir():
        if bundle.is_dir():
            assert mirror("verify", bundle, "--trust", "pub").exit_code == 0
