"""Fuzz the page readers of capture: any page in, an article or a one-line refusal out,
within the deadline and memory bound; odd markup that a browser reads past loses none
of the article after it."""

from __future__ import annotations

from hypothesis import example, given
from hypothesis import strategies as st

from mirror.capture.extract import Article, extract_article
from mirror.capture.given import page_article
from tests.fuzz.harness import FUZZ, mutations, survive

URL = "https://news.example.org/2024/report.html"
PARAS = [
    "The river rose overnight and by morning the lower town was under water, "
    "residents said.",
    "Emergency crews moved families from the riverside streets to the school on the "
    "hill before dawn.",
    "The mayor said the levee had held until midnight and then failed along its "
    "southern stretch.",
]
AFTER = "After the odd markup the report goes on, with the names of those who helped."

# Markup a browser reads past without dropping what follows: odd characters, tags it
# does not know or that do not close, voids written as containers, deep nesting.
ODD = [
    "\x00", "\x01", "\x1f", "\x7f", "\x0c", "\ufeff", "\ufffe", "\u202e", "\u2028",
    "&#1;", "&#x0;", "&#xD800;", "&#x110000;", "&#99999999;", "&bogus;", "&#x85;",
    "<embed src=a.swf>", "<object data=a><param name=a value=b></object>", "<source>",
    "<wbr>", "<keygen>", "<track>", "<o:p>", "</o:p>", "<foo:bar>", "<![CDATA[ x ]]>",
    "<?php echo 1 ?>", "<!-- a -- b -->", "<font>", "<div>", "</div>", "<span>", "<b>",
    "</p>", "</body>", "</html>", "<html/>", "<body/>", "<br/>", "<p/>", "<a name=x/>",
    "<table><tr><td>", "</table>", "<li>", "<ul>", "<dd>", "<section>", "<svg>", "</svg>",
    "<math>", "</math>", "<img>", "<img src=>", '<img src="/x.png" alt="a &#1; b">',
    "< p>", "<p <p>", "a < b", "<<<", ">>>", '<p a"b=c>', "<p\x00>",
]  # fmt: skip
FRAGMENT = st.lists(
    st.one_of(
        st.sampled_from(ODD),
        st.tuples(st.sampled_from(["<font>", "<div>", "<span><b>", "<section>"]),
                  st.integers(1, 1200)).map(lambda t: t[0] * t[1]),
    ),
    max_size=8,
).map("".join)  # fmt: skip


def _page(odd: str) -> str:
    paras = "".join(f"<p>{p}</p>" for p in PARAS * 2)
    return (
        '<!DOCTYPE html><html lang="en"><head><title>Floods reach the lower town</title>'
        f"</head><body><article>{paras}{odd}<p>{AFTER}</p>{paras}</article></body></html>"
    )


@FUZZ
@given(FRAGMENT)
@example("<div><a name=x/>")  # the slash is the name's: an anchor left open
def test_fuzz_odd_markup_loses_nothing_after_it(odd: str) -> None:
    article = survive(extract_article, _page(odd), URL)
    assert isinstance(article, Article), article
    assert AFTER in article.markdown, odd
    given = survive(page_article, _page(odd), URL)
    assert not isinstance(given, Exception), given
    assert AFTER in given[0].markdown, odd


@FUZZ
@given(mutations(_page("").encode("utf-8"), max_ops=6))
@example(b'<!DOCTYPE html><html!lang="en"><head><title>F')  # a tag name lxml refused to set
def test_fuzz_mangled_pages_give_an_article_or_a_one_line_refusal(data: bytes) -> None:
    text = data.decode("utf-8", "replace")
    survive(extract_article, text, URL)  # a MirrorError is the clean refusal
    survive(page_article, text, URL)
