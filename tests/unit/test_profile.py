"""Site profiles: TOML parsing, the CSS subset, and what a profile finds on a page."""

from __future__ import annotations

from pathlib import Path

import lxml.html
import pytest

from mirror.capture.profile import apply_profile, css_to_xpath, load_profile
from mirror.errors import UsageError

NEWS = Path(__file__).resolve().parents[1] / "fixtures" / "news" / "report.html"
URL = "https://www.example.org/news/report"

PROFILE = b"""
name = "Riverside Times"
urls = ["https://www.example.org/news/*"]
content = ["article .article__featured-image", "article .article__content"]
remove = [".donate-inline"]
title = "h1.article__title"
byline = ".article__byline a[rel=author]"
date = "article time.article__date"
"""


def page() -> lxml.html.HtmlElement:
    return lxml.html.fromstring(NEWS.read_bytes())


def test_a_profile_finds_the_article_its_title_byline_and_date() -> None:
    profile = load_profile(PROFILE)
    assert profile.name == "Riverside Times" and profile.sha256.startswith("sha256:")
    found = apply_profile(profile, page(), URL)
    assert found is not None
    assert found.title == "Regional Governors Told to Prepare for a Long Winter"
    assert found.authors == ("Anna Petrova",)
    assert found.published == "2024-03-14T09:30:00+03:00"
    html = found.content_html
    # both content elements, in page order, lead figure first; removals applied
    assert html.index("Vladimir Smirnov, TASS") < html.index("Regional governors were told")
    assert 'data-src="/images/queue.png"' in html and "<picture>" in html
    assert "consider a donation" not in html
    assert "Read more" not in html and "We use cookies" not in html


def test_a_profile_for_other_urls_or_other_markup_does_not_match() -> None:
    profile = load_profile(PROFILE)
    assert apply_profile(profile, page(), "https://other.example.net/news/report") is None
    other = load_profile(b'content = "div.story-body"')
    assert apply_profile(other, page(), URL) is None
    anywhere = load_profile(b'content = "main > article"')  # no urls: every page
    assert apply_profile(anywhere, page(), "https://x.example/") is not None


def test_the_same_bytes_give_the_same_sha256_and_a_change_another() -> None:
    assert load_profile(PROFILE).sha256 == load_profile(PROFILE).sha256
    assert load_profile(PROFILE).sha256 != load_profile(PROFILE + b"\n").sha256


@pytest.mark.parametrize(
    ("css", "matches"),
    [
        ("p", 15),
        ("article h2", 2),
        ("ul > li", 9),
        (".article__content > ul > li", 3),
        ("#nothing", 0),
        ("img[data-src]", 1),
        ('img[alt^="The president"]', 1),
        ("img[src$='small.png']", 1),
        ("[class~=lazyload]", 1),
        ("a[href*=donate]", 2),
        ("h2, h3", 3),
        ("figure figcaption", 2),
    ],
)
def test_css_subset(css: str, matches: int) -> None:
    assert len(page().xpath(css_to_xpath(css))) == matches


@pytest.mark.parametrize(
    "data",
    [
        b"content = ",  # not TOML
        b'title = "h1"',  # no content
        b'content = "p"\nscript = "x"',  # unknown field
        b"content = 3",  # wrong type
        b'content = "p:first-child"',  # pseudo-classes are not supported
        b'content = "p + p"',  # nor sibling combinators
        b'content = "p,"',  # an empty alternative
        b'content = "div >"',  # a dangling combinator
        b"\xff\xfe",  # not UTF-8
    ],
)
def test_malformed_profiles_are_refused_as_usage_errors(data: bytes) -> None:
    with pytest.raises(UsageError):
        load_profile(data)
