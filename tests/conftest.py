"""Suite-wide setup and fixtures: the CLI over a temporary data directory, sample pages."""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

_ROOT = str(Path(__file__).resolve().parent.parent)
if _ROOT not in sys.path:  # make ``tests.helpers`` importable however pytest is started
    sys.path.insert(0, _ROOT)

pytest_plugins = [
    "tests.ipfs_support",  # js-ipfs node fixtures: ipfs_factory, ipfs_node, ...
    "tests.helpers.tsa",  # OpenSSL timestamp authorities on 127.0.0.1: tsa, stranger_tsa
]

PASSPHRASE = "correct horse battery staple"
SHARED = Path(_ROOT).parent / "shared"
CORPUS = SHARED / "corpus"


@dataclass
class Run:
    exit_code: int
    stdout: str
    stderr: str


class Mirror:
    """Runs the real CLI in-process against one data directory."""

    def __init__(self, home: Path) -> None:
        self.home = home

    def __call__(
        self, *args: str | Path, input: str | None = None, env: dict[str, str] | None = None
    ) -> Run:
        runner = CliRunner()
        full_env = {"MIRROR_HOME": str(self.home), "MIRROR_PASSPHRASE": PASSPHRASE, **(env or {})}
        result = runner.invoke(
            __import__("mirror.cli", fromlist=["main"]).main,
            [str(a) for a in args],
            env=full_env,
            input=input,
            catch_exceptions=False,
        )
        return Run(result.exit_code, result.stdout, result.stderr)


@pytest.fixture(scope="session")
def _keyed_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory with key 'pub' (default) and key 'other', made once per session
    (scrypt makes key creation deliberately slow), both public keys trusted."""
    home = tmp_path_factory.mktemp("keyed-home")
    m = Mirror(home)
    for name in ("pub", "other"):
        assert m("keygen", "--name", name).exit_code == 0
        line = m("key", "show", name).stdout.strip()
        assert m("trust", "add", name, line).exit_code == 0
    return home


@pytest.fixture
def mirror(tmp_path: Path, _keyed_home: Path) -> Mirror:
    """The CLI over a fresh copy of a data directory holding keys 'pub' and 'other'."""
    home = tmp_path / "home"
    shutil.copytree(_keyed_home, home)
    return Mirror(home)


@pytest.fixture
def empty_mirror(tmp_path: Path) -> Mirror:
    """The CLI over an empty data directory."""
    return Mirror(tmp_path / "empty-home")


@pytest.fixture
def page_dir(tmp_path: Path) -> Path:
    """A small local article folder: index.html, a PNG it references, a 3 MiB file."""
    page = tmp_path / "page"
    (page / "img").mkdir(parents=True)
    png = bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
        "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
    )
    (page / "img" / "dot.png").write_bytes(png)
    (page / "index.html").write_text(
        "<!doctype html><html lang=en><head><meta charset=utf-8><title>Local report</title></head>"
        "<body><article><h1>Local report</h1><p>By Jane Roe</p>"
        + "".join(f"<p>Paragraph {i} of a report that matters to readers.</p>" for i in range(20))
        + '<img src="img/dot.png" alt="a dot"></article></body></html>',
        encoding="utf-8",
    )
    (page / "data.bin").write_bytes(os.urandom(3 * 1024 * 1024))
    return page


def corpus_or_skip() -> Path:
    if not (CORPUS / "readability").is_dir():
        pytest.skip("../shared/corpus is not present (only in the project's development setup)")
    return CORPUS


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file under root with its bytes (to prove a failing command changed nothing)."""
    if not root.exists():
        return {}
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }
