"""Days as the page's language writes them: the reader page writes the publication day
as a reader of that language would (the ISO time stays in the manifest and the <time>
element), and capture reads a day written that way in a page's text."""

from __future__ import annotations

import datetime as dt

import pytest

from mirror.capture import days
from mirror.capture.days import day_in_text, day_in_url, human_date
from mirror.capture.page import render_reader_page


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
    for lang, (pattern, months) in days._DAY_FORMATS.items():
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


@pytest.mark.parametrize(
    ("text", "day"),
    [
        ("Top 10 Women Talking Sports January 22, 2014 A general", "2014-01-22"),
        ("Teilen: 01.11.2023 11:35 Uhr", "2023-11-01"),
        ("Benni 10. September 2017 Datenschutz", "2017-09-10"),
        ("Mise en ligne 23 mai 2019", "2019-05-23"),
        ("Publicado el 3 de marzo de 2021", "2021-03-03"),
        ("Опубликовано 14 марта 2024 г.", "2024-03-14"),
        ("2024年3月14日", "2024-03-14"),
        ("Sept. 3rd, 2019", "2019-09-03"),
        ("1er janvier 2020", "2020-01-01"),
        ("Apr 7, 2009 and 2008-01-02", "2009-04-07"),  # the first one written
        ("31.02.2020, then 2020-05-06", "2020-05-06"),  # no 31 February
        ("14/03/2024", None),  # day or month first? not read
        # a day of change is not the day of publication
        ("Last Updated: January 7, 2025 Published July 10, 2020", "2020-07-10"),
        ("Aktualisiert am 17.01.2021", None),
        ("Mis à jour le 3 mai 2019", None),
        ("in 1994-05-06", None),  # before news pages
    ],
)
def test_a_day_written_in_text(text: str, day: str | None) -> None:
    assert day_in_text(text, before=dt.date(2026, 12, 1)) == day


def test_a_day_from_today_on_is_not_read() -> None:
    text = "Tuesday, 1 December 2026. Published 30 November 2026."
    assert day_in_text(text, before=dt.date(2026, 12, 1)) == "2026-11-30"


@pytest.mark.parametrize(
    ("url", "day"),
    [
        ("https://x.example/meldungen/29-10-2021", "2021-10-29"),
        ("https://x.example/bericht_vom_22.04.2020_zum_thema", "2020-04-22"),
        ("https://x.example/news/10-29-2021-story", "2021-10-29"),  # month first: one reading
        ("https://x.example/09-09-2021", "2021-09-09"),  # both readings name one day
        ("https://x.example/10-09-2021", None),  # 10 September or 9 October?
        ("https://x.example/31-02-2021", None),  # no such day
        ("https://x.example/123-10-2021", None),  # a number, not a day
        ("https://x.example/a?from=29-10-2021", None),  # a query is not the page's name
        ("https://29-10-2021.x.example/a", None),  # nor is the host
        ("https://x.example/29-10-1990", None),  # before news pages
        ("https://x.example/29-10-2099", None),  # not yet
    ],
)
def test_a_day_a_url_writes_with_its_year_last(url: str, day: str | None) -> None:
    assert day_in_url(url) == day


def test_the_beginning_of_a_text_names_a_day_only_when_the_rest_cannot_change_it() -> None:
    before = dt.date(2026, 12, 1)
    # "12.03.20" may go on as "12.03.2019", and "March 12, 2024" as a later, labelled day
    for beginning in ("text " * 30 + "12.03.20", "text " * 30 + "Published March 12, 2024"):
        assert day_in_text(beginning, before=before, more_follows=True) is None
    settled = "Published March 12, 2024. " + "text " * 30
    assert day_in_text(settled, before=before, more_follows=True) == "2024-03-12"
    assert day_in_text(settled + "01.01.2020", before=before) == "2024-03-12"
