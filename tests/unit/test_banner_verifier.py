"""The reader page's banner tells readers, in words, that the verifier page exists,
without a link a browser would follow."""

from __future__ import annotations

import re

from mirror.capture.page import render_reader_page


def test_banner_names_the_verifier_page_without_a_link() -> None:
    page = render_reader_page(
        body_html="<p>text</p>",
        title="T",
        byline="",
        published=None,
        site_name=None,
        lang="en",
        direction=None,
        source_url="https://example.org/a",
        captured_at="2026-01-02T03:04:05Z",
        key_id="0123456789abcdef",
        assets={},
    ).decode()
    banner = page[page.index('class="mirror-banner"') : page.index("</div>")]
    assert "verify.html" in banner and "verifier page" in banner
    assert not re.search(r"<a\b|href=", banner)
