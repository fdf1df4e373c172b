"""Decode fetched HTML to text the way browsers do, deterministically.

Order (WHATWG HTML "determining the character encoding"): byte order mark, the HTTP
``charset`` parameter, a ``<meta>`` prescan of the first 1024 bytes, then a guess
(valid UTF-8, else charset-normalizer), then UTF-8. Labels go through the WHATWG
Encoding Standard label table (https://encoding.spec.whatwg.org/#names-and-labels),
so ``iso-8859-1`` means windows-1252 and ``gb2312`` means gbk, as in every browser.
Invalid bytes become U+FFFD; nothing here raises on hostile input.
"""

from __future__ import annotations

import codecs
import re

# WHATWG encoding name -> Python codec. Where the two differ, the Python codec is the
# one that matches the WHATWG decoder (gbk decodes as gb18030, Shift_JIS as cp932,
# EUC-KR as cp949, Big5 with HKSCS).
_CODECS: dict[str, str] = {
    "utf-8": "utf-8",
    "ibm866": "cp866",
    "iso-8859-2": "iso8859_2",
    "iso-8859-3": "iso8859_3",
    "iso-8859-4": "iso8859_4",
    "iso-8859-5": "iso8859_5",
    "iso-8859-6": "iso8859_6",
    "iso-8859-7": "iso8859_7",
    "iso-8859-8": "iso8859_8",
    "iso-8859-8-i": "iso8859_8",
    "iso-8859-10": "iso8859_10",
    "iso-8859-13": "iso8859_13",
    "iso-8859-14": "iso8859_14",
    "iso-8859-15": "iso8859_15",
    "iso-8859-16": "iso8859_16",
    "koi8-r": "koi8_r",
    "koi8-u": "koi8_u",
    "macintosh": "mac_roman",
    "windows-874": "cp874",
    "windows-1250": "cp1250",
    "windows-1251": "cp1251",
    "windows-1252": "cp1252",
    "windows-1253": "cp1253",
    "windows-1254": "cp1254",
    "windows-1255": "cp1255",
    "windows-1256": "cp1256",
    "windows-1257": "cp1257",
    "windows-1258": "cp1258",
    "x-mac-cyrillic": "mac_cyrillic",
    "gbk": "gb18030",
    "gb18030": "gb18030",
    "big5": "big5hkscs",
    "euc-jp": "euc_jp",
    "iso-2022-jp": "iso2022_jp",
    "shift_jis": "cp932",
    "euc-kr": "cp949",
    "utf-16be": "utf-16-be",
    "utf-16le": "utf-16-le",
}

# WHATWG labels (a subset of the standard's table: every encoding, its common labels).
_LABELS: dict[str, str] = {name: name for name in _CODECS}
for _name, _labels in {
    "utf-8": "unicode-1-1-utf-8 unicode11utf8 unicode20utf8 utf8 x-unicode20utf8",
    "ibm866": "866 cp866 csibm866",
    "iso-8859-2": "csisolatin2 iso-ir-101 iso8859-2 iso88592 iso_8859-2 l2 latin2",
    "iso-8859-3": "csisolatin3 iso-ir-109 iso8859-3 iso88593 iso_8859-3 l3 latin3",
    "iso-8859-4": "csisolatin4 iso-ir-110 iso8859-4 iso88594 iso_8859-4 l4 latin4",
    "iso-8859-5": "csisolatincyrillic cyrillic iso-ir-144 iso8859-5 iso88595 iso_8859-5",
    "iso-8859-6": "arabic asmo-708 csiso88596e csiso88596i csisolatinarabic ecma-114 "
    "iso-8859-6-e iso-8859-6-i iso-ir-127 iso8859-6 iso88596 iso_8859-6",
    "iso-8859-7": "csisolatingreek ecma-118 elot_928 greek greek8 iso-ir-126 iso8859-7 "
    "iso88597 iso_8859-7 sun_eu_greek",
    "iso-8859-8": "csiso88598e csisolatinhebrew hebrew iso-8859-8-e iso-ir-138 iso8859-8 "
    "iso88598 iso_8859-8 visual",
    "iso-8859-8-i": "csiso88598i logical",
    "iso-8859-10": "csisolatin6 iso-ir-157 iso8859-10 iso885910 l6 latin6",
    "iso-8859-13": "iso8859-13 iso885913",
    "iso-8859-14": "iso8859-14 iso885914",
    "iso-8859-15": "csisolatin9 iso8859-15 iso885915 iso_8859-15 l9",
    "koi8-r": "cskoi8r koi koi8 koi8_r",
    "koi8-u": "koi8-ru",
    "macintosh": "csmacintosh mac x-mac-roman",
    "windows-874": "dos-874 iso-8859-11 iso8859-11 iso885911 tis-620",
    "windows-1250": "cp1250 x-cp1250",
    "windows-1251": "cp1251 x-cp1251",
    "windows-1252": "ansi_x3.4-1968 ascii cp1252 cp819 csisolatin1 ibm819 iso-8859-1 "
    "iso-ir-100 iso8859-1 iso88591 iso_8859-1 iso_8859-1:1987 l1 latin1 us-ascii x-cp1252",
    "windows-1253": "cp1253 x-cp1253",
    "windows-1254": "cp1254 csisolatin5 iso-8859-9 iso-ir-148 iso8859-9 iso88599 "
    "iso_8859-9 l5 latin5 x-cp1254",
    "windows-1255": "cp1255 x-cp1255",
    "windows-1256": "cp1256 x-cp1256",
    "windows-1257": "cp1257 x-cp1257",
    "windows-1258": "cp1258 x-cp1258",
    "x-mac-cyrillic": "x-mac-ukrainian",
    "gbk": "chinese csgb2312 csiso58gb231280 gb2312 gb_2312 gb_2312-80 iso-ir-58 x-gbk",
    "big5": "big5-hkscs cn-big5 csbig5 x-x-big5",
    "euc-jp": "cseucpkdfmtjapanese x-euc-jp",
    "iso-2022-jp": "csiso2022jp",
    "shift_jis": "csshiftjis ms932 ms_kanji shift-jis sjis windows-31j x-sjis",
    "euc-kr": "cseuckr csksc56011987 iso-ir-149 korean ks_c_5601-1987 ks_c_5601-1989 "
    "ksc5601 ksc_5601 windows-949",
    "utf-16be": "unicodefffe",
    "utf-16le": "csunicode iso-10646-ucs-2 ucs-2 unicode unicodefeff utf-16",
}.items():
    for _label in _labels.split():
        _LABELS[_label] = _name

# Python codec names (as charset-normalizer reports them) -> WHATWG names.
_FROM_PYTHON: dict[str, str] = {codecs.lookup(c).name: n for n, c in _CODECS.items()}
_FROM_PYTHON.update(
    {
        codecs.lookup("latin-1").name: "windows-1252",
        codecs.lookup("ascii").name: "windows-1252",
        codecs.lookup("gbk").name: "gbk",
        codecs.lookup("gb2312").name: "gbk",
        codecs.lookup("shift_jis").name: "shift_jis",
        codecs.lookup("euc_kr").name: "euc-kr",
        codecs.lookup("big5").name: "big5",
        codecs.lookup("iso8859_9").name: "windows-1254",
        codecs.lookup("iso8859_11").name: "windows-874",
    }
)

_PRESCAN_BYTES = 1024
_DETECT_BYTES = 256 * 1024


def normalize_label(label: str | None) -> str | None:
    """The WHATWG encoding name for a label, or None when unknown."""
    if not label:
        return None
    key = label.strip().strip("\"'").strip().lower()
    name = _LABELS.get(key)
    if name is None:
        # Not in the table: accept what Python knows only if it maps back to a name.
        try:
            name = _FROM_PYTHON.get(codecs.lookup(key).name)
        except (LookupError, ValueError):
            return None
    return name


def parse_content_type(header: str | None) -> tuple[str | None, str | None]:
    """(mime type lowercased, charset label as given) from a Content-Type header."""
    if not header:
        return None, None
    mime, _, params = header.partition(";")
    charset = _charset_param(params)
    return (mime.strip().lower() or None), charset


def decode_html(body: bytes, content_type_header: str | None) -> tuple[str, str]:
    """Decode an HTML body; returns (text, WHATWG encoding name)."""
    encoding = _sniff(body, content_type_header)
    if encoding in ("utf-8", "utf-16be", "utf-16le"):
        bom = {"utf-8": codecs.BOM_UTF8, "utf-16be": b"\xfe\xff", "utf-16le": b"\xff\xfe"}
        if body.startswith(bom[encoding]):
            body = body[len(bom[encoding]) :]
    return body.decode(_CODECS[encoding], errors="replace"), encoding


def _sniff(body: bytes, content_type_header: str | None) -> str:
    if body.startswith(codecs.BOM_UTF8):
        return "utf-8"
    if body.startswith(b"\xfe\xff"):
        return "utf-16be"
    if body.startswith(b"\xff\xfe"):
        return "utf-16le"
    http = normalize_label(parse_content_type(content_type_header)[1])
    if http is not None:
        return http
    meta = prescan(body[:_PRESCAN_BYTES])
    if meta is not None:
        return meta
    return _guess(body[:_DETECT_BYTES])


def _guess(sample: bytes) -> str:
    try:
        sample.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as e:
        # A sample cut inside a multi-byte sequence is still UTF-8.
        if e.start >= len(sample) - 3 and e.reason == "unexpected end of data":
            return "utf-8"
    try:
        from charset_normalizer import from_bytes

        best = from_bytes(sample).best()
    except Exception:  # a detector failure must not fail the capture
        best = None
    if best is not None:
        name = _FROM_PYTHON.get(codecs.lookup(best.encoding).name)
        if name is not None:
            return name
    return "utf-8"


# --- <meta> prescan (WHATWG HTML "prescan a byte stream", simplified) --------------

_TOKEN = re.compile(rb"<!--|<meta[\s/]|</?[a-zA-Z]|<[!/?]", re.IGNORECASE)
_ATTR = re.compile(
    rb"""[\s/]*(?P<name>[^\s/>=][^\s/>=]*)\s*(?:=\s*(?P<value>"[^"]*"|'[^']*'|[^\s>]*))?""",
)
_CHARSET_IN_CONTENT = re.compile(rb"""charset\s*=\s*(?P<q>["']?)(?P<v>[^"'\s;]+)""", re.I)


def prescan(head: bytes) -> str | None:
    """The encoding a ``<meta>`` in these bytes declares, or None."""
    pos = 0
    while pos < len(head):
        m = _TOKEN.search(head, pos)
        if m is None:
            return None
        token = m.group().lower()
        if token == b"<!--":
            end = head.find(b"-->", m.end())
            if end < 0:
                return None
            pos = end + 3
            continue
        if token.startswith(b"<meta"):
            found, pos = _meta(head, m.end())
            if found is not None:
                return found
            continue
        # Any other tag or markup declaration: skip to its '>'.
        end = head.find(b">", m.end())
        if end < 0:
            return None
        pos = end + 1
    return None


def _meta(head: bytes, pos: int) -> tuple[str | None, int]:
    attrs: dict[bytes, bytes] = {}
    while pos < len(head):
        while pos < len(head) and head[pos : pos + 1] in b" \t\n\r\f/":
            pos += 1
        if pos >= len(head) or head[pos : pos + 1] == b">":
            pos += 1
            break
        m = _ATTR.match(head, pos)
        if m is None or m.end() == pos:
            pos += 1
            continue
        value = m.group("value") or b""
        if value[:1] in (b'"', b"'"):
            value = value[1:-1]
        attrs.setdefault(m.group("name").lower(), value)
        pos = m.end()
    charset: str | None = None
    if b"charset" in attrs:
        charset = normalize_label(attrs[b"charset"].decode("latin-1"))
    elif attrs.get(b"http-equiv", b"").strip().lower() == b"content-type":
        cm = _CHARSET_IN_CONTENT.search(attrs.get(b"content", b""))
        if cm:
            charset = normalize_label(cm.group("v").decode("latin-1"))
    if charset in ("utf-16be", "utf-16le"):
        charset = "utf-8"  # a <meta> that is readable as ASCII cannot be UTF-16
    return charset, pos


def _charset_param(params: str) -> str | None:
    for part in params.split(";"):
        key, _, value = part.partition("=")
        if key.strip().lower() == "charset":
            value = value.strip().strip("\"'").strip()
            return value or None
    return None
