"""decode_html: WHATWG order (BOM, HTTP charset, <meta> prescan, guess, UTF-8)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mirror.capture.charset import decode_html, normalize_label, parse_content_type, prescan

RU = "Цензура не остановит журналистику: читатели в России проверяют подписи. " * 3
JA = "検閲にもかかわらず、読者は記事を読むことができます。" * 3
ZH = "尽管有审查，读者仍然可以阅读这篇文章。" * 3


@pytest.mark.parametrize(
    ("label", "name"),
    [
        ("ISO-8859-1", "windows-1252"),
        ("latin1", "windows-1252"),
        ("us-ascii", "windows-1252"),
        ("x-sjis", "shift_jis"),
        ("gb2312", "gbk"),
        (" UTF8 ", "utf-8"),
        ('"koi8-r"', "koi8-r"),
        ("cp1251", "windows-1251"),
        ("no-such-charset", None),
        ("", None),
    ],
)
def test_whatwg_labels(label: str, name: str | None) -> None:
    assert normalize_label(label) == name


@pytest.mark.parametrize(
    ("text", "codec", "name"),
    [
        (RU, "cp1251", "windows-1251"),
        (RU, "koi8_r", "koi8-r"),
        (JA, "shift_jis", "shift_jis"),
        (JA, "euc_jp", "euc-jp"),
        (ZH, "gbk", "gbk"),
    ],
)
def test_http_charset_and_meta_round_trip(text: str, codec: str, name: str) -> None:
    body = f"<p>{text}</p>".encode(codec)
    assert decode_html(body, f"text/html; charset={name}") == (f"<p>{text}</p>", name)
    html = f'<head><meta charset="{name}"></head><p>{text}</p>'
    assert decode_html(html.encode(codec), "text/html") == (html, name)


@pytest.mark.parametrize(
    ("text", "codec", "name"),
    [(RU, "cp1251", "windows-1251"), (RU, "koi8_r", "koi8-r"), (RU, "utf-8", "utf-8")],
)
def test_no_charset_anywhere_is_guessed(text: str, codec: str, name: str) -> None:
    assert decode_html(f"<p>{text}</p>".encode(codec), None) == (f"<p>{text}</p>", name)


def test_bom_wins_over_header_and_meta() -> None:
    body = b"\xef\xbb\xbf<meta charset=koi8-r>" + "Да".encode()
    assert decode_html(body, "text/html; charset=windows-1251") == (
        "<meta charset=koi8-r>Да",
        "utf-8",
    )
    utf16 = "\ufeff<p>Да</p>".encode("utf-16-le")
    assert decode_html(utf16, None) == ("<p>Да</p>", "utf-16le")


def test_header_wins_over_meta() -> None:
    body = "<meta charset=utf-8><p>Да</p>".encode("cp1251")
    assert decode_html(body, "text/html; charset=windows-1251")[1] == "windows-1251"


def test_meta_http_equiv_and_comments() -> None:
    head = (
        b'<!-- <meta charset="koi8-r"> -->'
        b'<meta http-equiv="Content-Type" content="text/html; charset=Shift_JIS">'
    )
    assert prescan(head) == "shift_jis"
    assert prescan(b"<meta content='text/html; charset=gb2312' http-equiv=content-type>") == "gbk"
    assert prescan(b"<meta charset=utf-16>") == "utf-8"
    assert prescan(b"<meta name=description content='charset=koi8-r'>") is None
    assert prescan(b"<p><meta\ncharset='koi8-r'/>") == "koi8-r"


def test_meta_beyond_1024_bytes_ignored() -> None:
    body = b"<!--" + b"x" * 1100 + b"--><meta charset=windows-1251>" + "Да".encode()
    assert decode_html(body, None)[1] == "utf-8"


def test_parse_content_type() -> None:
    assert parse_content_type('Text/HTML; Charset="UTF-8"; x=y') == ("text/html", "UTF-8")
    assert parse_content_type(None) == (None, None)
    assert parse_content_type("text/plain") == ("text/plain", None)


def test_invalid_bytes_replaced() -> None:
    assert decode_html(b"a\xffb", "text/html; charset=utf-8") == ("a\ufffdb", "utf-8")


@given(
    st.binary(max_size=2048),
    st.sampled_from(
        [None, "text/html", "text/html; charset=x-junk", "text/html;charset=shift_jis"]
    ),
)
def test_never_raises(body: bytes, header: str | None) -> None:
    text, name = decode_html(body, header)
    assert isinstance(text, str) and name
    assert decode_html(body, header) == (text, name)  # deterministic
