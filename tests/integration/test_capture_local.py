"""`mirror bundle` of a local page gets what `mirror capture` gives a fetched one:
the same sanitizing, local images under assets/, the CSP and the banner; the original
page is kept as source/page.raw and other files of the folder under source/files/
with a .raw suffix, so no gateway renders them."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from tests.conftest import Mirror


def manifest_of(bundle: Path) -> dict:
    return json.loads(
        base64.b64decode(json.loads((bundle / "manifest.json").read_bytes())["payload"])
    )


def test_local_folder_is_sanitized_with_local_images_and_raw_sources(
    mirror: Mirror, page_dir: Path, tmp_path: Path
) -> None:
    index = page_dir / "index.html"
    html = index.read_text(encoding="utf-8").replace(
        "</article>",
        '<img src="https://cdn.example.org/x.png" alt="remote picture">'
        '<img src="../outside.png" alt="outside"><a href="other.html">more</a>'
        "<script>fetch('https://tracker.example')</script></article>",
    )
    index.write_text(html, encoding="utf-8")
    (page_dir / "other.html").write_text("<script>alert(1)</script>", encoding="utf-8")
    (tmp_path / "outside.png").write_bytes((page_dir / "img" / "dot.png").read_bytes())
    out = tmp_path / "bundle"
    run = mirror("bundle", page_dir, "-o", out, "--url", "https://news.example.org/2024/report/")
    assert run.exit_code == 0, run.stderr

    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assets = [f for f in files if f.startswith("assets/")]
    assert len(assets) == 1 and assets[0].endswith(".png")
    assert (
        "source/page.raw" in files and (out / "source/page.raw").read_bytes() == index.read_bytes()
    )
    assert {"source/files/data.bin.raw", "source/files/other.html.raw"} <= set(files)
    assert not any(f.endswith((".html", ".bin")) and f != "index.html" for f in files)
    assert "img/dot.png" not in files and "source/files/img/dot.png.raw" not in files  # in assets/

    page = (out / "index.html").read_text(encoding="utf-8")
    assert "default-src 'none'" in page and "Unofficial mirror of" in page
    assert "https://news.example.org/2024/report/" in page
    assert f'src="{assets[0]}"' in page
    assert "<script" not in page and "tracker.example" not in page and "cdn.example.org" not in page
    assert "remote picture" in page and "outside" in page  # alt text kept
    key_id = manifest_of(out)["publisher"]["key_id"]
    assert f"signed by <code>{key_id}</code>" in page  # the banner names the signing key

    capture = manifest_of(out)["capture"]
    assert capture["origin"] == "local files"
    assert capture["local_files"]["img/dot.png"] == assets[0]
    assert capture["local_files"]["other.html"] == "source/files/other.html.raw"
    reasons = {m["url"]: m["reason"] for m in capture["images"]["missing"]}
    assert "https://cdn.example.org/x.png" in reasons and len(reasons) == 2
    assert mirror("verify", out, "--trust", "pub").exit_code == 0


def test_local_single_file_without_url_keeps_no_local_links(
    mirror: Mirror, page_dir: Path, tmp_path: Path
) -> None:
    index = page_dir / "index.html"
    index.write_text(
        index.read_text(encoding="utf-8").replace(
            "</article>", '<a href="notes.html">notes</a></article>'
        ),
        encoding="utf-8",
    )
    out = tmp_path / "single"
    run = mirror("bundle", index, "-o", out)
    assert run.exit_code == 0, run.stderr
    page = (out / "index.html").read_text(encoding="utf-8")
    assert "mirror-local.invalid" not in page and "notes" in page
    assert len(list((out / "assets").iterdir())) == 1
    assert not (out / "source" / "files").exists()  # only a folder's other files are carried
    assert manifest_of(out)["article"]["title"] == "Local report"
