"""The reader page writes the publication day as a reader of the page's language
would (the ISO time stays in the manifest and the <time> element)."""

from __future__ import annotations

import pytest

from mirror.capture import page
from mirror.capture.page import human_date, render_reader_page


@pytest.mark.parametrize(
    ("lang", "shown"),
    [
        (None, "14 March 2024"),
        ("en-GB", "14 March 2024"),
        ("ru", "14 марта 2024"),
        ("ru-RU", "14 марта 2024"),
        ("uk", "14 березня 2024"),
        ("be", "14 сакавіка 2024"),
        ("de_DE", "14. März 2024"),
        ("es", "14 de marzo de 2024"),
        ("zh-Hans", "2024年3月14日"),
        ("ko", "2024년 3월 14일"),
        ("fa", "2024-03-14"),  # not listed: the ISO day
    ],
)
def test_the_day_in_the_pages_language(lang: str | None, shown: str) -> None:
    assert human_date("2024-03-14T09:30:00+03:00", lang) == shown


def test_dates_without_a_time_and_unparsable_ones() -> None:
    assert human_date("2024-12-01", "ru") == "1 декабря 2024"
    assert human_date("2024-05-09Z", "en") == "9 May 2024"
    assert human_date("last Tuesday", "en") == "last Tuesday"


def test_every_language_names_twelve_distinct_months() -> None:
    for lang, (pattern, months) in page._DAY_FORMATS.items():
        assert "{d}" in pattern and "{y}" in pattern, lang
        assert ("{month}" in pattern) == bool(months), lang
        assert not months or len(set(months)) == 12, lang


def test_the_reader_page_shows_it_beside_the_iso_time() -> None:
    html = render_reader_page(
        body_html="<p>Текст статьи.</p>",
        title="Заголовок",
        byline="Иван Петров",
        published="2024-03-14T09:30:00+03:00",
        site_name=None,
        lang="ru",
        direction="ltr",
        source_url="https://example.org/a",
        captured_at="2024-03-15T00:00:00Z",
        key_id="k1",
        assets={},
    ).decode()
    assert '<time datetime="2024-03-14T09:30:00+03:00">14 марта 2024</time>' in html
    assert '<html lang="ru" dir="ltr">' in html
