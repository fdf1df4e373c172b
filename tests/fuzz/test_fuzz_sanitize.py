"""Fuzz the reader-page sanitizer: any HTML in, inert HTML out, never a crash."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from mirror.capture.sanitize import sanitize_article
from tests.fuzz.harness import FUZZ, survive

TAGS = [
    "p",
    "a",
    "img",
    "script",
    "style",
    "iframe",
    "svg",
    "math",
    "form",
    "object",
    "embed",
    "base",
    "meta",
    "link",
    "noscript",
    "template",
    "table",
    "video",
    "source",
    "picture",
]
ATTRS = [
    "href",
    "src",
    "srcset",
    "onerror",
    "onload",
    "style",
    "xlink:href",
    "action",
    "formaction",
    "data",
    "poster",
    "background",
    "ping",
    "http-equiv",
    "content",
]
VALUES = [
    "javascript:alert(1)",
    "https://tracker.example/x.png",
    "//evil.example/a",
    "data:text/html,<script>1</script>",
    " jav\tascript:1",
    "url(https://e.example)",
    "0;url=https://e.example",
    "x.png 1x, https://e.example/y.png 2x",
    "&#106;avascript:1",
]


def _element() -> st.SearchStrategy[str]:
    attr = st.tuples(
        st.sampled_from(ATTRS), st.one_of(st.sampled_from(VALUES), st.text(max_size=12))
    )
    return st.builds(
        lambda tag, attrs, body: (
            f"<{tag} " + " ".join(f'{k}="{v}"' for k, v in attrs) + f">{body}</{tag}>"
        ),
        st.sampled_from(TAGS),
        st.lists(attr, max_size=3),
        st.text(max_size=20),
    )


HTML = st.one_of(
    st.text(max_size=500),
    st.lists(st.one_of(_element(), st.text(max_size=10)), max_size=12).map("".join),
    st.recursive(_element(), lambda inner: st.lists(inner, max_size=3).map("".join), max_leaves=8),
)
_FETCHING_ATTR = re.compile(r"\s(on\w+|srcset|background|poster|ping|action|formaction)\s*=", re.I)


@FUZZ
@given(HTML)
def test_fuzz_sanitizer_output_is_inert(html: str) -> None:
    result = survive(sanitize_article, html, "https://example.org/news/a.html")
    if isinstance(result, Exception):
        return
    out = result.html.lower()
    for tag in (
        "<script",
        "<iframe",
        "<style",
        "<object",
        "<embed",
        "<base",
        "<meta",
        "<link",
        "<form",
        "<svg",
        "<math",
    ):
        assert tag not in out, (tag, result.html)
    assert "javascript:" not in out and "data:" not in out, result.html
    assert not _FETCHING_ATTR.search(result.html), result.html
    for src in re.findall(r'\ssrc="([^"]*)"', result.html):
        assert src.startswith(("http://", "https://")), src  # swapped for a local copy later
