"""How days are written in the languages of the pages this tool is most used for: the
reader page writes the publication day as a reader of the page's language would
(human_date), and capture reads a day written in a page's text when its markup
states none (day_in_text)."""

from __future__ import annotations

import datetime as dt
import re

__all__ = ["date_written_at", "day_in_text", "day_in_url", "human_date"]

# Writing: CLDR's long date pattern and month names (in the form a date uses: genitive in
# Slavic languages), without the era or the Russian "г.". Other languages get the
# ISO day, which reads in any language.
_DAY_FORMATS: dict[str, tuple[str, tuple[str, ...]]] = {
    "en": ("{d} {month} {y}", ("January", "February", "March", "April", "May", "June", "July",
           "August", "September", "October", "November", "December")),
    "ru": ("{d} {month} {y}", ("января", "февраля", "марта", "апреля", "мая", "июня", "июля",
           "августа", "сентября", "октября", "ноября", "декабря")),
    "uk": ("{d} {month} {y}", ("січня", "лютого", "березня", "квітня", "травня", "червня",
           "липня", "серпня", "вересня", "жовтня", "листопада", "грудня")),
    "be": ("{d} {month} {y}", ("студзеня", "лютага", "сакавіка", "красавіка", "мая", "чэрвеня",
           "ліпеня", "жніўня", "верасня", "кастрычніка", "лістапада", "снежня")),
    "pl": ("{d} {month} {y}", ("stycznia", "lutego", "marca", "kwietnia", "maja", "czerwca",
           "lipca", "sierpnia", "września", "października", "listopada", "grudnia")),
    "de": ("{d}. {month} {y}", ("Januar", "Februar", "März", "April", "Mai", "Juni", "Juli",
           "August", "September", "Oktober", "November", "Dezember")),
    "fr": ("{d} {month} {y}", ("janvier", "février", "mars", "avril", "mai", "juin", "juillet",
           "août", "septembre", "octobre", "novembre", "décembre")),
    "es": ("{d} de {month} de {y}", ("enero", "febrero", "marzo", "abril", "mayo", "junio",
           "julio", "agosto", "septiembre", "octubre", "noviembre", "diciembre")),
    "pt": ("{d} de {month} de {y}", ("janeiro", "fevereiro", "março", "abril", "maio", "junho",
           "julho", "agosto", "setembro", "outubro", "novembro", "dezembro")),
    "it": ("{d} {month} {y}", ("gennaio", "febbraio", "marzo", "aprile", "maggio", "giugno",
           "luglio", "agosto", "settembre", "ottobre", "novembre", "dicembre")),
    "tr": ("{d} {month} {y}", ("Ocak", "Şubat", "Mart", "Nisan", "Mayıs", "Haziran", "Temmuz",
           "Ağustos", "Eylül", "Ekim", "Kasım", "Aralık")),
    "zh": ("{y}年{m}月{d}日", ()),
    "ja": ("{y}年{m}月{d}日", ()),
    "ko": ("{y}년 {m}월 {d}일", ()),
}  # fmt: skip


def human_date(value: str, lang: str | None) -> str:
    """The day of an ISO 8601 time as a reader of the page's language writes it:
    "14 March 2024", "14 марта 2024", "2024年3月14日"; the ISO day "2024-03-14" in a
    language not listed above. A value that does not parse is shown as it is."""
    try:
        when = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        try:
            when = dt.datetime.combine(dt.date.fromisoformat(value[:10]), dt.time())
        except ValueError:
            return value
    known = _DAY_FORMATS.get((lang or "en").lower().replace("_", "-").split("-")[0])
    if known is None:
        return when.date().isoformat()
    pattern, months = known
    month = months[when.month - 1] if months else ""
    return pattern.format(d=when.day, m=when.month, y=when.year, month=month)


# Reading: the month names above (lower-cased) and their first three letters where
# those name one month only ("mar" is March in English, French, Spanish and Italian;
# "mai" May in German and French), and abbreviations the Web writes often.
def _month_numbers() -> dict[str, int]:
    names: dict[str, int] = {}
    short: dict[str, set[int]] = {}
    for _pattern, months in _DAY_FORMATS.values():
        for number, name in enumerate(months, start=1):
            names[name.lower()] = number
            short.setdefault(name.lower()[:3], set()).add(number)
    for prefix, numbers in short.items():
        if len(numbers) == 1:
            names.setdefault(prefix, numbers.pop())
    names.update({"sept": 9, "janv": 1, "févr": 2, "avr": 4, "juil": 7})
    return names


_MONTH_NUMBER = _month_numbers()
_MONTH_NAME = "|".join(sorted(map(re.escape, _MONTH_NUMBER), key=len, reverse=True))
_YEAR = r"(?P<y>(?:19|20)\d\d)(?!\d)"
# "14.03.2024", "2024-03-14", "14. März 2024", "14 de marzo de 2024", "1er janvier 2024",
# "March 14th, 2024", "2024年3月14日"; "14/03/2024" is left out (day or month first?)
_DAY_WRITTEN = (
    re.compile(rf"(?<![\d.])(?P<d>[0-3]?\d)\.\s?(?P<m>[01]?\d)\.\s?{_YEAR}"),
    re.compile(r"(?<![\d-])(?P<y>(?:19|20)\d\d)-(?P<m>[01]\d)-(?P<d>[0-3]\d)(?![\d])"),
    re.compile(
        rf"(?<![\w.])(?P<d>[0-3]?\d)(?:\.|st|nd|rd|th|er)?\s+(?:de\s+)?(?P<month>{_MONTH_NAME})"
        rf"\.?,?\s+(?:de\s+)?{_YEAR}",
        re.I,
    ),
    # any word, looked up after the match: an alternation of every month name tried at
    # every letter of a page took ten times longer
    re.compile(rf"(?<!\w)(?P<month>[^\W\d_]{{3,11}})\.?\s+(?P<d>[0-3]?\d)(?:st|nd|rd|th)?,?\s+{_YEAR}"),
    re.compile(r"(?P<y>(?:19|20)\d\d)\s?[年년]\s?(?P<m>[01]?\d)\s?[月월]\s?(?P<d>[0-3]?\d)\s?[日일]"),
)
_EARLIEST = dt.date(1995, 1, 1)  # before the Web had news pages
# "Last updated: 7 January 2025", "Aktualisiert am 17.01.2021": a day of change, which
# is not the day of publication however prominently a page shows it
_CHANGE_LABEL = re.compile(
    r"(?:updated|aktualisiert|mis à jour|actualizado|atualizado|aggiornato|обновлено|"
    r"оновлено|zaktualizowano|güncellendi)\W*(?:\w+\W+)?$",
    re.I,
)
_LABEL_READ = 40  # characters before a day that may hold its label
# a day that ends this far before the end of a text's beginning is the whole text's
# first day too: a written date is far shorter
_SETTLED = 100


def day_in_text(text: str, *, before: dt.date, more_follows: bool = False) -> str | None:
    """The ISO day of the first date written in ``text`` that falls before ``before``
    (a page's header often shows today's date: it is not the article's) and is not
    labelled as a day of change.

    With ``more_follows``, ``text`` is the beginning of a longer text: a day is given
    only when the rest cannot change the answer (it ends well before the end of
    ``text``; a written date is far shorter than that), else None."""
    found: list[tuple[int, int, dt.date]] = []
    for pattern in _DAY_WRITTEN:
        for m in pattern.finditer(text):
            day = _day_of(m)
            if day is None:
                continue
            if _EARLIEST <= day < before and not _CHANGE_LABEL.search(
                text, max(0, m.start() - _LABEL_READ), m.start()
            ):
                found.append((m.start(), m.end(), day))
                break
    if not found:
        return None
    _start, end, day = min(found, key=lambda f: (f[0], f[2]))
    if more_follows and end > len(text) - _SETTLED:
        return None
    return day.isoformat()


def date_written_at(text: str) -> int | None:
    """Where the first date written in ``text`` (in a form day_in_text reads) starts."""
    starts = (
        m.start() for pattern in _DAY_WRITTEN for m in pattern.finditer(text) if _day_of(m)
    )
    return min(starts, default=None)


def _day_of(m: re.Match[str]) -> dt.date | None:
    fields = m.groupdict()
    month = fields.get("m") or _MONTH_NUMBER.get((fields.get("month") or "").lower())
    try:
        return dt.date(int(fields["y"]), int(month or 0), int(fields["d"]))
    except ValueError:
        return None


# "29-10-2021", "29.10.2021", "29_10_2021" in a URL's path, when only one reading is a day
_URL_DAY = re.compile(r"(?<![\d])(?P<a>[0-3]?\d)[-._](?P<b>[01]?\d|[0-3]\d)[-._]" + _YEAR)


def day_in_url(url: str) -> str | None:
    """The ISO day a URL's path writes with its year last, when it can be read one way
    only: "29-10-2021" and "10-29-2021" are 29 October, "10-09-2021" is no day. (htmldate
    reads the paths that put the year first.)"""
    path = url.split("?", 1)[0].split("#", 1)[0]
    m = _URL_DAY.search(path.split("//", 1)[-1].partition("/")[2])
    if m is None:
        return None
    a, b, year = int(m["a"]), int(m["b"]), int(m["y"])
    readings: set[dt.date] = set()
    for day_of_month, month in ((a, b), (b, a)):
        try:
            readings.add(dt.date(year, month, day_of_month))
        except ValueError:
            continue
    if len(readings) != 1:
        return None
    (read,) = readings
    return read.isoformat() if _EARLIEST <= read <= dt.date.today() else None
