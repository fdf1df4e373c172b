"""The verdict corpus (manifests/vectors/verdicts/, layout in the project contract)
through the verifier page: every case whose surfaces include "verifier", through
`window.mirror.verify` with the case's trust, state and time, and through the file
input of a page built with the case's keys and its state remembered the page's own
way (signed documents in storage, re-verified on load).

Until the corpus lands, the same layout is written from tests/verifier_cases.py, so
the harness itself is exercised.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from mirror import verifier
from mirror.keys import PublicKey
from tests.browser import Browser, chromium
from tests.integration.test_verifier_browser import b64_of, file_input_verdict, open_page
from tests.verifier_cases import build_cases

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "manifests" / "vectors" / "verdicts"
STATE_KEY = "mirror-verifier/identity-state"

pytestmark = pytest.mark.browser


def corpus_cases(root: Path) -> list[tuple[str, Path, dict[str, Any]]]:
    out = []
    for case_file in sorted(root.glob("*/case.json")):
        case = json.loads(case_file.read_text(encoding="utf-8"))
        if "verifier" in case.get("surfaces", []) and case.get("kind") in ("car", "export"):
            out.append((case_file.parent.name, case_file.parent / case["input"], case))
    return out


def write_layout(cases_dir: Path, out: Path) -> Path:
    """Our own cases in the corpus layout (what manifests/make_vectors.py writes)."""
    for c in build_cases(cases_dir):
        folder = out / c.name
        folder.mkdir(parents=True)
        name = "article.html" if c.path.suffix == ".html" else "bundle.car"
        shutil.copyfile(c.path, folder / name)
        case = {
            "kind": "export" if name.endswith(".html") else "car",
            "input": name,
            "trust": c.trust,
            "state": c.state,
            "now": "2026-01-02T03:04:05Z",
            "expect": {"exit_code": c.exit_code, "reason": c.reason},
            "surfaces": ["verify", "verifier"],
        }
        (folder / "case.json").write_text(json.dumps(case), encoding="utf-8")
    return out


@pytest.fixture(scope="module")
def browser() -> Any:
    with chromium() as b:
        yield b


@pytest.fixture(scope="module", params=["corpus", "layout"])
def corpus(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    if request.param == "corpus":
        if not CORPUS.is_dir():
            pytest.skip("manifests/vectors/verdicts is not there yet")
        return CORPUS
    return write_layout(tmp_path_factory.mktemp("cases"), tmp_path_factory.mktemp("layout"))


def _expect(case: dict[str, Any]) -> tuple[int, str | None]:
    return case["expect"]["exit_code"], case["expect"].get("reason")


@pytest.mark.parametrize("fallback", [False, True], ids=["webcrypto", "fallback"])
def test_corpus_through_window_mirror_verify(
    browser: Browser, corpus: Path, tmp_path: Path, fallback: bool
) -> None:
    cases = corpus_cases(corpus)
    assert cases, "no verifier case in the corpus"
    page_file = tmp_path / "verify.html"
    first = PublicKey.from_text(cases[0][2]["trust"][0]["key"])
    verifier.write(page_file, [verifier.EmbeddedKey("pub", first)])
    opened = open_page(browser, page_file, fallback=fallback)
    differ = []
    try:
        for name, path, case in cases:
            options = {k: case[k] for k in ("trust", "state", "now") if k in case}
            v = opened.page.evaluate(
                """async ([b64, name, options]) => {
                     const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
                     return await window.mirror.verify(bytes, name, options);
                   }""",
                [b64_of(path), path.name, options],
            )
            got = (0 if v["ok"] else v["exit_code"], v["reason"])
            if got != _expect(case):
                differ.append(f"{name}: expected {_expect(case)}, got {v}")
        used = opened.page.evaluate("() => window.mirror.engine.usedFallback")
        assert used is fallback
    finally:
        opened.page.context.close()
    assert not differ, "\n".join(differ)


def test_corpus_through_the_file_input(browser: Browser, corpus: Path, tmp_path: Path) -> None:
    differ = []
    for name, path, case in corpus_cases(corpus):
        keys = [
            verifier.EmbeddedKey(t["name"], PublicKey.from_text(t["key"])) for t in case["trust"]
        ]
        page_file = tmp_path / name / "verify.html"
        page_file.parent.mkdir()
        verifier.write(page_file, keys)
        state = json.dumps(case.get("state") or [])
        ctx_script = f"localStorage.setItem({json.dumps(STATE_KEY)}, {json.dumps(state)});"
        opened = open_page(browser, page_file, init_script=ctx_script)
        try:
            verdict, code = file_input_verdict(opened.page, path)
            exit_code, _ = _expect(case)
            want = "verified" if exit_code == 0 else "refused" if exit_code == 3 else "error"
            shown = opened.page.is_visible("iframe#article")
            if (verdict, code, shown) != (want, exit_code, exit_code == 0):
                differ.append(f"{name}: expected {want} {exit_code}, got {verdict} {code}")
        finally:
            opened.page.context.close()
    assert not differ, "\n".join(differ)


@pytest.mark.parametrize(
    ("locale", "words"),
    [("en-US", "existed by 2026-12-01T09:38:19Z (TSA corpus-tsa)"),
     ("ru-RU", "существовала не позднее 2026-12-01T09:38:19Z (TSA corpus-tsa)")],
)  # fmt: skip
def test_stamped_receipt_says_when(
    browser: Browser, tmp_path: Path, locale: str, words: str
) -> None:
    """A stamped bundle's receipt names its time and TSA, as `mirror verify` prints it."""
    name = "timestamp-before-rotation-car"
    case = json.loads((CORPUS / name / "case.json").read_text(encoding="utf-8"))
    keys = [verifier.EmbeddedKey(t["name"], PublicKey.from_text(t["key"])) for t in case["trust"]]
    page_file = tmp_path / "verify.html"
    verifier.write(page_file, keys)
    state = json.dumps(case["state"])
    init = f"localStorage.setItem({json.dumps(STATE_KEY)}, {json.dumps(state)});"
    ctx = browser.browser.new_context(locale=locale)
    ctx.add_init_script(init)
    page = ctx.new_page()
    try:
        page.goto(page_file.as_uri())
        verdict, code = file_input_verdict(page, CORPUS / name / case["input"])
        assert (verdict, code) == ("verified", 0)
        assert words in page.inner_text("#verdict")
    finally:
        ctx.close()
