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


def test_what_a_page_put_in_a_list_outside_its_items_stays() -> None:
    # an <ol> never closed: the parser puts the paragraphs after it inside the list
    page = _page("What the river did").replace(
        "<p>The river", "<ol><li>Sandbags</li><li>Pumps</li><p>The river"
    )
    article, _ = page_article(page, URL)
    assert "1. Sandbags\n2. Pumps\n\nThe river rose overnight.\n\nSupport us" in article.markdown


def test_a_list_items_blocks_do_not_run_into_each_other() -> None:
    page = _page("What the river did").replace(
        "<p>The river", "<ul><li><p>Sandbags</p><p>Pumps</p></li></ul><p>The river"
    )
    article, _ = page_article(page, URL)
    assert "- Sandbags Pumps\n" in article.markdown


def test_article_md_of_a_page_as_given_is_spelled_as_a_captures() -> None:
    # decomposed letters composed and soft hyphens left out, as capture writes article.md;
    # the reader page keeps the hyphenation hints
    page = _page("What the river did").replace(
        "The river rose overnight.", "The cafe\u0301 by the ri&shy;ver was under wa\u00adter."
    )
    article, _ = page_article(page, URL)
    assert "The caf\u00e9 by the river was under water." in article.markdown
    assert "wa\u00adter" in article.content_html
