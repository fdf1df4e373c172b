"""A publisher's own page, as given: the title once, the rest of the body whole."""

from __future__ import annotations

from mirror.capture.given import page_article
from mirror.capture.sanitize import sanitize_article

URL = "https://www.example.org/news/report.html"


def _page(heading: str) -> str:
    return (
        "<!DOCTYPE html><html><head><title>Report from the valley</title></head><body>"
        f"<h1>{heading}</h1><p>The river rose overnight.</p><p>Support us</p></body></html>"
    )


def test_a_first_heading_that_repeats_the_title_is_in_neither_the_page_nor_article_md() -> None:
    article, matched = page_article(_page("Report from the valley"), URL)
    assert not matched and article.title == "Report from the valley"
    assert article.markdown.startswith("The river rose overnight.")
    assert "Report from the valley" not in article.markdown + article.content_html
    assert "Support us" in article.markdown  # as given: nothing else is judged away


def test_a_first_heading_of_its_own_stays_a_heading() -> None:
    article, _ = page_article(_page("What the river did"), URL)
    assert article.markdown.startswith("# What the river did\n")
    assert "<h1>What the river did</h1>" in article.content_html


def test_a_page_nested_past_the_parsers_limit_is_kept_whole() -> None:
    # 300 <font> opened and never closed: libxml2 alone stops reading at 256 levels
    page = _page("What the river did").replace("<p>The river", "<font>" * 300 + "<p>The river")
    article, _ = page_article(page, URL)
    assert "The river rose overnight." in article.markdown and "Support us" in article.markdown
    cleaned = sanitize_article(article.content_html, URL)
    assert "The river rose overnight." in cleaned.html and "Support us" in cleaned.html
