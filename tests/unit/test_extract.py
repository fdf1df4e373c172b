"""extract_article on small synthetic pages, and the corpus figures via the dev scorer."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path

import pytest
import trafilatura.core
from lxml import etree

from mirror.capture import extract
from mirror.capture.extract import Article, extract_article
from mirror.capture.markup import MAX_NESTING
from mirror.capture.sanitize import sanitize_article
from mirror.errors import UsageError

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT.parent / "shared" / "corpus" / "readability"
SCORER = ROOT.parent / "shared" / "tools" / "score_capture.py"
URL = "https://news.example.org/world/2024/story.html"

PARAS = [
    "The river rose overnight and by morning the lower town was under water, residents said.",
    "Emergency crews moved families to the school on the hill, where volunteers served soup.",
    "Officials said the levee had been inspected last spring and no weakness had been found.",
    "Farmers upstream reported the heaviest rain in forty years across the whole valley.",
]


def article_page(head: str = "", extra: str = "") -> str:
    paras = "".join(f"<p>{p}</p>" for p in PARAS)
    return f"""<!DOCTYPE html><html lang="en"><head>
<title>Floods reach the lower town | Valley Times</title>
<meta property="og:site_name" content="Valley Times">{head}</head><body>
<nav><a href="/">Home</a> <a href="/world">World</a></nav>
<article><h1>Floods reach the lower town</h1>
<div class="byline">By Mara Quist</div>
{paras}
<h2>What comes next</h2>
<ul><li>Schools stay closed on Monday.</li><li>Roads reopen when the water drops.</li></ul>
<p>Read the <a href="../guide.html">flood guide</a> or call <a href="tel:112">112</a>.</p>
<figure><img src="/img/flood.jpg" alt="Flooded main street">
<figcaption>Main street at dawn.</figcaption></figure>
<img src="data:image/png;base64,iVBORw0KGgo=" alt="">
{extra}
</article><footer>Copyright Valley Times</footer></body></html>"""


def test_article_fields_and_byline() -> None:
    a = extract_article(article_page(), URL)
    assert isinstance(a, Article)
    assert a.title == "Floods reach the lower town"
    assert a.authors == ("Mara Quist",)
    assert a.byline == "Mara Quist"
    assert a.site_name == "Valley Times"
    assert (a.language, a.direction) == ("en", "ltr")


def test_markdown_holds_the_text_and_no_urls() -> None:
    md = extract_article(article_page(), URL).markdown
    for p in PARAS:
        assert p in md
    assert "## What comes next" in md
    assert "- Schools stay closed on Monday." in md
    # links as their text, images as their alt text: no addresses in article.md
    assert "flood guide" in md and "guide.html" not in md
    # an image is one line of its own: alt text and caption in italics
    assert "\n*Flooded main street — Main street at dawn.*\n" in md
    # the body only: the title is the manifest's and the reader page's, never the body's
    # first heading repeating it
    assert md.startswith(PARAS[0]) and "Floods reach" not in md
    assert "http" not in md and "data:" not in md and "](" not in md


def test_content_html_keeps_structure_with_absolute_urls() -> None:
    html = extract_article(article_page(), URL).content_html
    assert "<h2>What comes next</h2>" in html
    assert "<li>Schools stay closed on Monday.</li>" in html
    assert '<img src="https://news.example.org/img/flood.jpg" alt="Flooded main street">' in html
    assert 'href="https://news.example.org/world/guide.html"' in html
    assert "tel:112" not in html  # non-http links keep their text only
    assert "<nav" not in html and "Copyright" not in html


def test_base_href_is_honoured_for_relative_urls() -> None:
    a = extract_article(article_page(head='<base href="https://cdn.example.net/a/">'), URL)
    assert 'src="https://cdn.example.net/img/flood.jpg"' in a.content_html
    assert 'href="https://cdn.example.net/guide.html"' in a.content_html


def test_little_text_still_found_by_second_pass() -> None:
    # a short text in a layout without article markup
    page = (
        "<html><head><title>Short note from the editor</title></head><body>"
        '<div class="x"><div>The print edition is delayed by one day because of the storm.</div>'
        "<div>Subscribers will get two issues on Thursday.</div></div></body></html>"
    )
    a = extract_article(page, URL)
    assert "print edition is delayed" in a.markdown
    assert a.title == "Short note from the editor"


def test_title_falls_back_to_url_and_never_empty() -> None:
    page = "<html><body>" + "".join(f"<p>{p}</p>" for p in PARAS) + "</body></html>"
    assert extract_article(page, URL).title == URL


@pytest.mark.parametrize(
    "page",
    ["", "   ", "<html><head><title>Empty</title></head><body></body></html>", "\x00\x01"],
)
def test_no_text_is_a_usage_error(page: str) -> None:
    with pytest.raises(UsageError, match=r"^no article text found at https://news\.example"):
        extract_article(page, URL)


def test_rtl_page() -> None:
    page = (
        '<html lang="ar" dir="rtl"><head><title>عنوان المقال الطويل هنا اليوم</title></head>'
        "<body><article>"
        + "<p>هذا نص عربي طويل بما يكفي ليعتبر مقالا كاملا في هذه الصفحة التجريبية.</p>" * 8
        + "</article></body></html>"
    )
    a = extract_article(page, URL)
    assert (a.language, a.direction) == ("ar", "rtl")
    assert "هذا نص عربي" in a.markdown


def _dev_scorer():  # type: ignore[no-untyped-def]
    path = ROOT / "bench" / "score_extract.py"
    spec = importlib.util.spec_from_file_location("score_extract", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("score_extract", module)
    spec.loader.exec_module(module)
    return module


@pytest.mark.corpus
def test_corpus_figures_hold() -> None:
    if not CORPUS.is_dir():
        pytest.skip("../shared/corpus/readability is absent")
    if not SCORER.is_file():
        pytest.skip("../shared/tools/score_capture.py is absent")
    se = _dev_scorer()
    sc = se.load_scorer(SCORER)
    docs = se.fetch_pages(CORPUS)
    fig = se.score(sc, CORPUS, docs, se.ours)
    assert fig.pages == 64
    assert fig.titles >= 61, fig.problems
    assert fig.bylines >= 40, fig.problems
    assert fig.value("recall_median") >= 0.97
    assert fig.value("recall_p10") >= 0.90
    assert fig.value("precision_median") >= 0.85


NEWS = ROOT / "tests" / "fixtures" / "news" / "report.html"
NEWS_URL = "http://127.0.0.1:8000/news/report"
NEWS_LEAD = (
    "Heating bills are rising for the third winter running, and the federal money that used"
    " to pay for them is shrinking."
)


def test_a_news_report_keeps_every_part_of_the_article() -> None:
    a = extract_article(NEWS.read_text(encoding="utf-8"), NEWS_URL)
    md, html = a.markdown, a.content_html
    for heading in ("## Budgets under strain", "## What the regions asked for"):
        assert heading in md
    assert "> We were told to find the money ourselves" in md
    assert "- a freeze on the price of gas for municipal boiler houses;" in md
    assert "Vladimir Smirnov, TASS / kremlin.ru" in md
    # the lead under the headline first, then each image one line of its own, alt and
    # caption
    lines = [line for line in md.splitlines() if line]
    assert lines[0] == NEWS_LEAD
    assert lines[1].startswith("*The president at a meeting with regional governors in the")
    assert lines[1].endswith("Vladimir Smirnov, TASS / kremlin.ru*")
    assert (
        "*Residents queue outside a district heating office. Ivan Sidorov / Riverside Times*"
        in lines
    )
    assert "*A municipal boiler house on the edge of a town*" in lines
    # the lead photo, the <picture> (widest srcset candidate) and the lazy one (data-src)
    srcs = re.findall(r'<img src="([^"]+)"', html)
    assert srcs == [
        "http://127.0.0.1:8000/images/lead.png",
        "http://127.0.0.1:8000/images/boiler-large.png",
        "http://127.0.0.1:8000/images/queue.png",
    ]
    assert "<figcaption>The president at a meeting" in html
    assert a.published == "2024-03-14T09:30:00+03:00"
    # furniture stays out, and the title is not repeated in the body
    for furniture in ("Donate today", "We use cookies", "All rights reserved", "Read more"):
        assert furniture not in md
    assert md.count("Regional Governors Told") <= 1 and "Anna Petrova" not in md
    assert "Regional Governors Told" not in html  # the reader page's header shows it
    assert md.count("Regional governors were told on Thursday") == 1


def _page_with(odd: str) -> str:
    paras = "".join(
        f'<p>{p} See <a href="/more/{i}">more</a>.</p>' for i, p in enumerate(PARAS * 2)
    )
    return (
        "<!DOCTYPE html><html><head><title>Odd page</title></head><body><article>"
        f'{paras}<p><img src="/a.png" alt="first picture"></p>{odd}'
        f'<p>After the odd markup the report goes on. <a href="/after">A link after</a>.</p>'
        '<p><img src="/b.png" alt="second picture"></p>'
        f"{paras}</article></body></html>"
    )


@pytest.mark.parametrize(
    "odd",
    [
        '<p><img src="/c.png" alt="a stray &#x01; control"></p>',
        '<p><a href="/x&#x01;y">a stray &#1; control in a link</a></p>',
        "<p>raw \x01 and \x1f controls and a \x0c form feed</p>",
    ],
)
def test_stray_control_characters_do_not_lose_the_article(odd: str) -> None:
    a = extract_article(_page_with(odd), URL)
    assert "After the odd markup the report goes on." in a.markdown
    assert "first picture" in a.markdown and "second picture" in a.markdown
    assert not re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f]", a.markdown + a.content_html)


@pytest.mark.parametrize("blank", ["&#8203;", "\u200b", "&zwnj;\u2060", "&#xFEFF;"])
def test_text_of_only_zero_width_characters_is_blank_not_paragraphs(blank: str) -> None:
    # an editor's "&#8203;" between boxes pushed the heading that repeats the title out
    # of first place, and each one became a paragraph of its own
    gap = f"\n  {blank}\n  "
    paras = gap.join(f"<p>{p}</p>" for p in PARAS)
    html = (
        "<!DOCTYPE html><html><head><title>Floods reach the lower town</title></head><body>"
        f"<article>{gap}<h1>Floods reach the lower town</h1>{gap}<div class=photo>{gap}"
        f'<img src="/img/flood.jpg" alt="Flooded main street">{gap}'
        f"<div class=media-caption>Main street at dawn.</div>{gap}</div>{gap}"
        f"{paras}<p>{blank}</p>{gap}{paras}</article></body></html>"
    )
    md = extract_article(html, URL).markdown
    blocks = md.strip().split("\n\n")
    assert blocks[0] == "*Flooded main street — Main street at dawn.*"
    assert blocks[1:] == PARAS * 2
    # and the page reads as it would with white space alone, line breaks and all
    assert md == extract_article(html.replace(blank, ""), URL).markdown
    # within a word the joiners stay: Persian spells with them
    persian = "می\u200cخواهم"
    kept = extract_article(html.replace(PARAS[0], f"{PARAS[0]} {persian}", 1), URL)
    assert persian in kept.markdown


def test_a_template_is_no_text_but_a_declarative_shadow_root_is() -> None:
    # a browser shows nothing of a <template>; a script stamps it out (a recipe site's
    # "{{#steps}}" list, a menu), or never does
    stamped = (
        "<template><ul><li>Profil {{#id}}</li><li>Nachrichten {{/id}}</li></ul>"
        "<p>{{{text}}} of the next step, written in by the page's script.</p></template>"
    )
    shown = (
        "<div><template shadowrootmode=open><p>A note the page shows in its own box, "
        "the text of a declarative shadow root.</p></template></div>"
    )
    paras = "".join(f"<p>{p}</p>" for p in PARAS)
    html = (
        "<!DOCTYPE html><html><head><title>Floods</title></head><body><article>"
        f"{paras}{stamped}{paras}{shown}{paras}</article></body></html>"
    )
    md = extract_article(html, URL).markdown
    assert "{{" not in md and "next step" not in md
    assert md.count(PARAS[0]) == 3
    assert "text of a declarative shadow root" in md


@pytest.mark.parametrize(
    "odd",
    [
        '<embed src="/movie.swf" type="application/x-shockwave-flash">',
        '<object data="/m.swf"><param name="a" value="b"><embed src="/m.swf"></object>',
    ],
)
def test_an_embed_does_not_drop_the_links_and_images_after_it(odd: str) -> None:
    a = extract_article(_page_with(odd), URL)
    assert "After the odd markup the report goes on." in a.markdown
    assert 'href="https://news.example.org/after"' in a.content_html
    assert 'src="https://news.example.org/b.png"' in a.content_html
    assert a.content_html.count("<a ") == 2 * 2 * len(PARAS) + 1
    assert "swf" not in a.content_html


def test_an_amp_pages_pictures_are_its_pictures_for_capture_and_the_sanitizer() -> None:
    amp = (
        '<figure><amp-img src="/img/levee.jpg" width="800" height="600" layout="responsive"'
        ' alt="Sandbags on the dam"><noscript><img src="/img/levee.jpg" alt=""></noscript>'
        "</amp-img><figcaption>The levee at noon.</figcaption></figure>"
    )
    a = extract_article(article_page(extra=amp), URL)
    assert "*Sandbags on the dam — The levee at noon.*" in _lines(a.markdown)
    assert a.content_html.count("/img/levee.jpg") == 1  # the fallback is the same picture
    cleaned = sanitize_article(f"<p>Text.</p>{amp}<p>After.</p>", URL)
    assert [i.url for i in cleaned.images] == ["https://news.example.org/img/levee.jpg"]
    assert "amp-img" not in cleaned.html and "After." in cleaned.html


@pytest.mark.parametrize(
    ("picture", "expected"),
    [
        (  # Medium: a blurred thumbnail, an empty frame the script fills, the copy
            '<figure><div><img src="/max/60/levee.png?q=20" width="1894" height="970"></div>'
            '<img width="1894" height="970"><noscript><img src="/max/3788/levee.png"'
            ' srcset="/max/1200/levee.png 1200w, /max/2400/levee.png 2400w"></noscript>'
            "<figcaption>The levee at noon.</figcaption></figure>",
            "/max/1200/levee.png",
        ),
        (  # WordPress's Jetpack: the placeholder is the srcset, the copy has the source
            '<p><img src="/levee.jpg?w=605" data-lazy-src="/levee.jpg?w=605&amp;pending=1"'
            ' srcset="/1x1-f7f7f7ff.png" class="jetpack-lazy-image"><noscript>'
            '<img src="/levee.jpg?w=605" alt="Sandbags on the dam"></noscript></p>',
            "/levee.jpg?w=605&amp;pending=1",
        ),
        (  # the script's candidates hold more sizes than the copy: they stay first
            '<p><img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=" alt="Sandbags"'
            ' data-srcset="/levee-320.jpg 320w, /levee-768.jpg 768w"><noscript>'
            '<img src="/levee-320.jpg" alt="Sandbags"></noscript></p>',
            "/levee-768.jpg",
        ),
        (  # a tracking pixel for readers without script is no copy of the picture
            '<p><img src="/levee.jpg" alt="Sandbags"><noscript><img height="1" width="1"'
            ' src="https://tracker.example.com/tr?id=1&amp;ev=PageView"></noscript></p>',
            "/levee.jpg",
        ),
    ],
    ids=["blurred thumbnail", "placeholder srcset", "script candidates", "tracking pixel"],
)
def test_a_lazy_picture_is_the_one_its_noscript_copy_shows(picture: str, expected: str) -> None:
    a = extract_article(article_page(extra=picture), URL)
    sources = re.findall(r'<img src="([^"]+)"', a.content_html)
    assert f"https://news.example.org{expected}" in sources
    assert not any(s.endswith(("q=20", "1x1-f7f7f7ff.png")) or "/320" in s for s in sources)
    assert len([s for s in sources if "levee" in s]) == 1  # the copy is the same picture


@pytest.mark.parametrize(
    "odd",
    [
        "<font>" * 300,  # opened in a loop, never closed: past libxml2's 256 levels
        "<div>" * 300,
        "<div>" * 300 + "deep" + "</div>" * 300,
        "<section><blockquote>" * 150,
        "<div><span>" * 1500,
        "<svg><span>",  # an <svg> left open: a browser ends it at the next paragraph
        "</body></html>",  # a browser reads on after both
        "<body/>",  # and ignores the slash
        "<div><a name=x/>",  # the slash is the name's: an anchor with no address, open
    ],
    ids=["300 fonts", "300 divs", "300 closed divs", "300 boxes", "3000 boxes", "open svg",
         "early end", "self-closed body", "open anchor"],
)  # fmt: skip
def test_markup_that_stops_the_parser_loses_nothing_after_it(odd: str) -> None:
    a = extract_article(_page_with(odd), URL)
    assert "After the odd markup the report goes on." in a.markdown
    assert "first picture" in a.markdown and "second picture" in a.markdown
    assert 'href="https://news.example.org/after"' in a.content_html


def test_a_page_nested_deeper_than_can_be_read_is_refused_in_one_line() -> None:
    # <template> keeps its tags when the page is read again: its text is no page text
    with pytest.raises(UsageError) as refused:
        extract_article(_page_with("<template>" * (MAX_NESTING + 10)), URL)
    assert "deeper than 256 levels" in str(refused.value) and "\n" not in str(refused.value)


def test_a_page_of_more_blocks_than_justext_can_compare_is_read_without_the_fallbacks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # trafilatura's fallback extractors (readability, justext) take time that grows with
    # the square of the blocks: past the limit, its main pass alone reads the page
    calls: list[str] = []
    real_compare, real_rescue = trafilatura.core.compare_extraction, trafilatura.core.justext_rescue

    def compare(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append("compare")
        return real_compare(*args, **kwargs)

    def rescue(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append("justext")
        return real_rescue(*args, **kwargs)

    monkeypatch.setattr(trafilatura.core, "compare_extraction", compare)
    monkeypatch.setattr(trafilatura.core, "justext_rescue", rescue)
    line = "<p>The same short line of a hostile page, written again and again.</p>"
    small = f"<html><body>{line * 50}</body></html>"
    large = f"<html><body>{line * (extract._FALLBACK_BLOCKS + 1)}</body></html>"
    extract_article(small, URL)
    assert "compare" in calls  # a page of usual size gets the fallbacks
    calls.clear()
    a = extract_article(large, URL)
    assert calls == []
    assert a.markdown.count("written again and again") == extract._FALLBACK_BLOCKS + 1


def test_the_block_a_kept_text_came_from_is_the_first_after_the_last_one_found() -> None:
    # found by bisection in the page's order: a page may repeat one paragraph many times
    line = "<p>A line the page repeats, word for word.</p>"
    page = etree.fromstring(f"<body>{line * 5}</body>")
    order = {el: i for i, el in enumerate(page.iter())}
    sources = {extract._key(page[0].text): list(page)}
    text = page[0].text
    assert extract._source(sources, text, order, -1) is page[0]
    assert extract._source(sources, text, order, order[page[2]]) is page[3]
    assert extract._source(sources, text, order, order[page[4]]) is page[0]  # none after
    assert extract._source(sources, "no such text in the page at all", order, -1) is None


def test_a_lead_whose_heading_is_closed_as_another_level_is_kept_as_the_lead() -> None:
    # "<h2>...</h3>": a browser ends the heading there; read as open, it held the article
    lead = (
        "Whether the town rebuilds on the hill or behind a higher levee, the vote next "
        "month will decide what the valley looks like for a generation."
    )
    paras = "".join(f"<p>{p}</p>" for p in PARAS * 3)
    html = (
        "<!DOCTYPE html><html><head><title>Floods reach the lower town</title></head><body>"
        f'<main><h1>Floods reach the lower town</h1><h2 class="excerpt">{lead}</h3>'
        '<div class="ad"><h3>Advertisement</h3></div>'
        f'<div id="articleBody" class="article-content">{paras}</div></main></body></html>'
    )
    md = extract_article(html, URL).markdown
    assert md.startswith(lead) and md.count(PARAS[0]) == 3


def test_a_lead_in_an_article_box_the_cms_marks_with_its_tags_is_kept() -> None:
    lead = (
        "How many days may staff stay at home when their child is ill, and who pays for "
        "them? The most important questions and answers."
    )
    paras = "".join(f"<p>{p}</p>" for p in PARAS * 3)
    html = (
        "<!DOCTYPE html><html><head><title>Floods reach the lower town</title></head><body>"
        '<section class="site"><h1>Floods reach the lower town</h1>'
        '<article class="post type-post tag-floods category-news time-3min">'
        f'<div class="article-header"><p class="article-excerpt">{lead}</p></div>'
        '<div class="toc"><p class="toc-title">Contents: what this article tells you</p></div>'
        f'<div class="article-content">{paras}</div></article></section></body></html>'
    )
    assert lead in extract_article(html, URL).markdown


def test_a_servers_error_messages_are_not_the_article() -> None:
    # a failing plugin's PHP warnings in the sidebar outweighed a short post
    warning = (
        "<br />\n<b>Warning</b>:  Use of undefined constant comments - assumed 'comments' "
        "(this will throw an Error in a future version of PHP) in <b>/htdocs/wp-content/"
        "plugins/recent-comments/recent-comments.php</b> on line <b>928</b><br />"
    )
    html = (
        "<!DOCTYPE html><html><head><title>Number two</title></head><body>"
        '<div id="content"><div class="post"><h2 class="posttitle">Number two</h2>'
        f'<div class="postentry"><p>{PARAS[0]}</p><p>{PARAS[1]}</p></div></div></div>'
        f'<div id="sidebar"><ul><li><h2>Latest comments</h2><ul>{warning * 6}</ul></li>'
        "</ul></div></body></html>"
    )
    md = extract_article(html, URL).markdown
    assert PARAS[0] in md and PARAS[1] in md and "on line" not in md


def _list_in_modules(items: str) -> str:
    """A page written as text and picture modules whose last text module holds a list
    after a line that opens with a break: trafilatura keeps the lines, not the list."""
    text = (
        "The water authority counts fewer floods in the valley each year since the "
        "levee was raised in 2015. This spring the river broke through at two places, "
        "and the damage is put at 14 million euros, the authority said on Wednesday."
    )
    module = 'class="paragraph paragraph--text section--module"'
    return (
        "<!DOCTYPE html><html><head><title>Floods reach the lower town</title></head><body>"
        '<div class="node"><div class="section--module"><h1>Floods reach the lower town</h1></div>'
        f'<div {module}><div class="editor--content"><p>{" ".join(PARAS)}</p>'
        f"<p>{text}</p></div></div>"
        '<div class="paragraph paragraph--image section--module">'
        '<img src="/flood.jpg" width="984" height="590" alt=""></div>'
        f'<div {module}><div class="editor--content"><p><br>How to keep your home safe:</p>'
        f'<ul>{items}</ul><p>More about floods <a href="/floods">here</a>.</p></div></div>'
        '<div class="button--wrapper"><a href="/" class="button">Back</a></div></div></body></html>'
    )


def test_a_list_written_as_prose_between_kept_blocks_is_put_back_in_its_place() -> None:
    steps = [
        "Move valuables and documents to an upper floor before the water reaches the house.",
        "Switch off the electricity at the mains if water is about to enter the building.",
        "Do not walk or drive through flood water: thirty centimetres of it can carry a car.",
    ]
    md = extract_article(_list_in_modules("".join(f"<li>{s}</li>" for s in steps)), URL).markdown
    listed = "\n".join(f"- {s}" for s in steps)
    assert f"How to keep your home safe:\n\n{listed}\n\nMore about floods here." in md


def test_a_list_of_links_between_kept_blocks_stays_out() -> None:
    teasers = "".join(
        f'<li><a href="/news/{n}">{t}</a></li>'
        for n, t in enumerate(["Levee repairs start in May", "Schools reopen after the flood",
                               "The valley's farmers count their losses"])
    )  # fmt: skip
    md = extract_article(_list_in_modules(teasers), URL).markdown
    assert "How to keep your home safe:" in md and "Levee repairs" not in md


def _list_with_links_under(label: str, share: str = "") -> str:
    """A weekly report whose list has an item of a few words holding a list of links
    only: trafilatura keeps the item's words and drops the list it holds."""
    bugs = "".join(
        f'<li><a href="https://bugs.example.org/{n}">Bug {n} – {t}</a></li>'
        for n, t in ((1677080, "Fullscreen window flickers when the video source changes"),
                     (1677107, "Count how often two windows are open at once"),
                     (1678390, "Windows no longer open on top of one another")))  # fmt: skip
    done = "".join(
        f"<li>{t}</li>"
        for t in ("The team fixed three crashes at start-up that users had reported.",
                  "The new settings page is now translated into twelve languages.",
                  "Start-up is a fifth faster on older machines, measured on five."))  # fmt: skip
    return (
        "<!DOCTYPE html><html><head><title>This week in the browser</title></head><body>"
        "<article><h1>This week in the browser</h1>"
        f"<p>{PARAS[0]}</p><h2>Windows</h2><ul>{done}<li>{label}<ul>{bugs}</ul></li></ul>"
        f"<p>{PARAS[1]}</p>{share}</article></body></html>"
    )


def test_a_list_of_links_a_kept_item_holds_comes_back_under_it() -> None:
    md = extract_article(_list_with_links_under("In progress:"), URL).markdown
    assert (
        "- In progress:\n"
        "  - Bug 1677080 – Fullscreen window flickers when the video source changes\n"
        "  - Bug 1677107 – Count how often two windows are open at once\n"
        "  - Bug 1678390 – Windows no longer open on top of one another"
    ) in md


def test_the_list_a_share_item_holds_stays_out() -> None:
    share = (
        '<ul><li class="tools__share">Share this report<ul class="social-links">'
        '<li><a href="https://facebook.example/share">Facebook</a></li>'
        '<li><a href="https://x.example/share">X (formerly Twitter)</a></li></ul></li>'
        "<li>Written by the release team, who meet every Tuesday.</li></ul>"
    )
    md = extract_article(_list_with_links_under("In progress:", share), URL).markdown
    assert "  - Bug 1677080" in md and "Facebook" not in md


def test_a_self_closing_html_tag_does_not_empty_the_page() -> None:
    html = _page_with("").replace("<html>", '<html lang="en"/>', 1)
    a = extract_article(html, URL)
    assert "After the odd markup the report goes on." in a.markdown


def test_when_extraction_keeps_less_than_the_article_container_holds_it_falls_back() -> None:
    from lxml import etree
    from trafilatura.utils import load_html

    from mirror.capture import extract

    paras = "".join(f"<p>{p} Part {i}.</p>" for i, p in enumerate(PARAS * 3))
    tree = load_html(
        "<!DOCTYPE html><html><head><title>Split story</title></head><body>"
        f'<div itemprop="articleBody">{paras}</div><div>Other things</div></body></html>'
    )
    # an extraction that kept one paragraph of twelve is replaced by the container's
    small = etree.fromstring(f"<body><p>{PARAS[0]} Part 0.</p></body>")
    body, size = extract._container_fallback(tree, URL, (small, PARAS[0]), len(PARAS[0]))
    text = " ".join(body.itertext())
    assert f"{PARAS[3]} Part 11." in text and "Other things" not in text
    assert size > 10 * len(PARAS[0])
    # one that kept about all of it stays as it is
    kept, _size = extract._container_fallback(tree, URL, (small, paras), len(paras))
    assert kept is small


def _module(i: int, paragraphs: int) -> str:
    text = "".join(f"<p>Module {i}, part {j}. {PARAS[(i + j) % 4]}</p>" for j in range(paragraphs))
    # grid rows inside repeat a class too: one holds a label, the other the text
    label = f'<div class="row"><p>Part {i}</p></div>'
    copy = f'<div class="row"><div class="copy">{text}</div></div>'
    wrapped = f'<div class="text">{label}{copy}</div>'
    return f'<div class="module module--text">{wrapped}</div>'


def _picture_module(i: int) -> str:
    return (
        f'<div class="module module--picture"><figure><img src="/img/{i}.jpg" alt="Street {i}">'
        f"<figcaption>The street at dawn, picture {i}.</figcaption></figure></div>"
    )


def test_an_article_written_as_sibling_boxes_of_one_class_is_kept_whole() -> None:
    from lxml import etree

    from mirror.capture import extract
    from mirror.capture.markup import parse_page

    boxes = [_module(0, 2), _picture_module(0), _module(1, 3), _module(2, 6), _module(3, 2)]
    tree = parse_page(
        "<!DOCTYPE html><html><head><title>Floods</title></head><body><h1>Floods</h1>"
        f'<section><div class="modules">{"".join(boxes)}</div>'
        '<div class="module module--related"><p>Read next: the drought of last summer, '
        "how the valley coped with it and what its farmers learned.</p></div></section>"
        "</body></html>"
    )
    assert tree is not None
    order, sources = extract._page_index(tree)
    # an extraction that kept the largest box only, as trafilatura does on such pages
    kept = "".join(f"<p>Module 2, part {j}. {PARAS[(2 + j) % 4]}</p>" for j in range(6))
    found = etree.fromstring(f"<body><div>{kept}</div></body>")
    size = len(" ".join(found.itertext()))
    body, joined_size = extract._sibling_boxes(tree, URL, found, size, order, sources)
    text = " ".join(body.itertext())
    for i, paragraphs in ((0, 2), (1, 3), (2, 6), (3, 2)):
        assert all(f"Module {i}, part {j}." in text for j in range(paragraphs))
    assert text.index("Module 0") < text.index("Module 1") < text.index("Module 3")
    assert "drought" not in text and joined_size > size
    # a box the page does not repeat is the article as it is
    alone = etree.fromstring(f"<body><div>{kept}</div></body>")
    single = parse_page(f"<html><body><div class='copy'>{kept}</div><p>Other</p></body></html>")
    assert single is not None
    order, sources = extract._page_index(single)
    assert extract._sibling_boxes(single, URL, alone, size, order, sources) == (alone, size)


TEASER = (
    "The lower town woke up under water on Tuesday. Read how the night unfolded, what the "
    "crews found at the levee and what the valley's farmers expect from the coming week, "
    "in the full report for subscribers, written from the school on the hill. Our "
    "reporters spent the night with the crews and the families they moved to safety."
)


def _scripted_page(body: object) -> str:
    """A page whose article a script writes in for subscribers: its HTML holds a teaser
    and a menu, its JSON-LD the whole text (as the schema.org articleBody)."""
    ld = json.dumps({"@type": "NewsArticle", "headline": "Floods", "articleBody": body})
    ld = ld.replace("</", "<\\/")  # as pages write it: no "</script>" inside the script
    return f"""<!DOCTYPE html><html><head><title>Floods</title>
<script type="application/ld+json">{ld}</script></head><body>
<nav><a href="/">Home</a></nav><div id="app"><p>{TEASER}</p></div></body></html>"""


def test_an_article_only_its_json_ld_states_is_read_from_there() -> None:
    assert extract_article(_scripted_page(None), URL).markdown.strip() == TEASER
    md = extract_article(_scripted_page("\n\n".join(PARAS * 3)), URL).markdown
    assert all(md.count(p) == 3 for p in PARAS) and TEASER not in md
    assert md.count("\n\n") >= 3 * len(PARAS) - 1  # a paragraph for each of its lines
    # stated as HTML, a block is a paragraph and an inline element stays in its line
    html_body = "".join(f"<p>{p[:20]}<b>{p[20:]}</b></p>" for p in PARAS * 3)
    md = extract_article(_scripted_page(html_body + "<script>track()</script>"), URL).markdown
    assert all(md.count(p) == 3 for p in PARAS) and "<b>" not in md and "track" not in md


@pytest.mark.parametrize("stated", ["A short teaser of the story.", 42, None])
def test_a_json_ld_body_that_says_less_than_the_page_is_not_taken(stated: object) -> None:
    ld = json.dumps({"@type": "NewsArticle", "articleBody": stated})
    page = article_page(head=f'<script type="application/ld+json">{ld}</script>')
    md = extract_article(page, URL).markdown
    assert all(p in md for p in PARAS) and "teaser" not in md
    # nor one much longer, when the page's own text is an article already
    ld = json.dumps({"@type": "NewsArticle", "articleBody": " ".join(PARAS * 20)})
    more = "".join(f"<p>{p} Once more.</p>" for p in PARAS)
    page = article_page(head=f'<script type="application/ld+json">{ld}</script>', extra=more)
    assert extract_article(page, URL).markdown.count(PARAS[0]) == 2


# -- image lines, pictures that are not the article's, pointers to other articles ------


def _lines(md: str) -> list[str]:
    return [line for line in md.splitlines() if line.startswith("*")]


def test_image_lines_leave_out_alt_texts_that_say_nothing() -> None:
    extra = (
        '<figure><img src="/img/a.jpg" alt="IMG_4228.jpg"><figcaption>The harbour at noon.'
        "</figcaption></figure>"
        '<p><img src="/img/b.jpg" alt="harbour-view-2024-large"></p>'
        '<p><img src="/img/c.jpg" alt="Photo 3"></p>'
        '<p><img src="/img/d.jpg" alt="Image for post"></p>'
        '<p><img src="/img/e.jpg" alt="https://cdn.example.org/e.jpg"></p>'
        '<p><img src="/img/f.jpg" alt="Image: Floods reach the lower town"></p>'
        '<figure><img src="/img/g.jpg" alt="Boats at dawn&lt;br&gt;&lt;small&gt;Photo by Ann'
        '&lt;/small&gt;"><figcaption>Boats at dawn. Photo by Ann Lee</figcaption></figure>'
        '<p><img src="/img/h.jpg" alt="A fishing boat tied up at the flooded quay"></p>'
    )
    a = extract_article(article_page(extra=extra), URL)
    lines = _lines(a.markdown)
    assert "*The harbour at noon.*" in lines  # a file name is no description
    assert "*Boats at dawn. Photo by Ann Lee*" in lines  # alt with markup: its text, once
    assert "*A fishing boat tied up at the flooded quay*" in lines
    for junk in ("harbour-view", "Photo 3", "Image for post", "cdn.example", "Image: Floods"):
        assert junk not in a.markdown, junk
    # the reader page keeps every picture
    for name in "abcdefgh":
        assert f"/img/{name}.jpg" in a.content_html, name


def test_an_alt_that_retells_the_text_around_it_is_left_out_of_the_image_line() -> None:
    # a photo essay: each picture's alt retells its caption in the list below it, with
    # a changed comma and "back yard" for "backyard"; a short alt is never judged so
    extra = (
        '<figure><img src="/img/q.jpg" alt="Ana with her father in his back yard where he '
        'keeps the boat he built with his brother"></figure>'
        "<ul><li>Ana with her father in his backyard, where he keeps the boat he built with "
        "his brother</li></ul>"
        '<p><img src="/img/r.jpg" alt="The flooded quay"> The flooded quay was closed.</p>'
        '<figure><img src="/img/t.jpg" alt="Rescue boats waiting by the old mill at dawn">'
        "<figcaption>Volunteers got ready before sunrise.</figcaption></figure>"
    )
    a = extract_article(article_page(extra=extra), URL)
    assert "in his back yard" not in a.markdown
    assert "- Ana with her father in his backyard, where he keeps the boat he" in a.markdown
    assert "*The flooded quay*" in _lines(a.markdown)
    # an alt that tells what the text does not stays beside the caption
    assert (
        "*Rescue boats waiting by the old mill at dawn — Volunteers got ready before sunrise.*"
        in _lines(a.markdown)
    )
    assert 'alt="Ana with her father in his back yard' in a.content_html  # the page keeps it


def test_a_picture_hidden_from_screen_readers_lends_its_line_no_alt() -> None:
    # MediaWiki writes a formula as MathML for screen readers and a picture, hidden
    # from them, whose alt is TeX: the alt is no text of the article
    extra = (
        '<p>The sum <img src="/math/1.svg" aria-hidden="true" alt="{\\displaystyle a+b}"> '
        "grows with both terms.</p>"
        '<figure><img src="/img/m.jpg" aria-hidden="true" alt="decorative swirl">'
        "<figcaption>The valley after the flood.</figcaption></figure>"
    )
    a = extract_article(article_page(extra=extra), URL)
    assert "displaystyle" not in a.markdown and "swirl" not in a.markdown
    assert "*The valley after the flood.*" in _lines(a.markdown)  # the caption stays
    assert "/math/1.svg" in a.content_html  # and the reader page keeps the picture


def test_an_image_line_that_repeats_an_earlier_one_is_written_once() -> None:
    extra = "".join(
        f'<p><img src="/img/s{i}.png" alt="Screen of the river gauge"></p>' for i in range(3)
    )
    a = extract_article(article_page(extra=extra), URL)
    assert a.markdown.count("*Screen of the river gauge*") == 1
    assert a.content_html.count('alt="Screen of the river gauge"') == 3


def test_the_authors_own_picture_is_not_the_articles() -> None:
    extra = '<p><img src="/people/mara.jpg" alt="Mara Quist"></p>'
    a = extract_article(article_page(extra=extra), URL)
    assert a.authors == ("Mara Quist",)
    assert "mara.jpg" not in a.content_html and "*Mara Quist*" not in a.markdown
    assert "/img/flood.jpg" in a.content_html  # the article's own picture stays


@pytest.mark.parametrize(
    ("extra", "line", "figure"),
    [
        (  # a <figcaption> written right after its <figure>
            '<figure><img src="/img/hole.jpg" alt="Dig a hole in the sand."></figure>'
            "<figcaption>Dig a hole in the sand. (Lucy Akins)</figcaption>",
            "*Dig a hole in the sand. (Lucy Akins)*",
            r"<figure><img [^>]*hole\.jpg[^>]*><figcaption>Dig a hole",
        ),
        (  # an <img> and a <figcaption> in a <div>, no <figure>
            '<div class="visual"><img src="/img/gauge.jpg" alt="A white tower">'
            "<figcaption>The gauge at nine metres (Lucy Akins)</figcaption></div>",
            "*A white tower — The gauge at nine metres (Lucy Akins)*",
            r"<figure><img [^>]*gauge\.jpg[^>]*><figcaption>The gauge at",
        ),
        (  # the same after a <picture>: its sources are the picture too
            '<div class="hero"><picture><source media="(min-width: 720px)"'
            ' srcset="/img/dam-large.jpg"><img src="/img/dam.jpg" alt="A wall of water">'
            "</picture><figcaption><p>The dam at dusk (Lucy Akins)</p></figcaption></div>",
            "*A wall of water — The dam at dusk (Lucy Akins)*",
            r"<figure><img [^>]*dam[-.][^>]*><figcaption>The dam at dusk",
        ),
    ],
)
def test_a_figcaption_right_after_its_picture_is_its_caption(
    extra: str, line: str, figure: str
) -> None:
    # the picture's caption, not a paragraph of its own under a picture without one
    a = extract_article(article_page(extra=extra), URL)
    assert line in _lines(a.markdown)
    assert a.markdown.count("Lucy Akins") == 1
    assert re.search(figure, a.content_html)


def test_a_line_that_only_points_to_another_article_is_left_out() -> None:
    lines = (
        '<p>Read more: <a href="/world/2024/coast-road.html">Storm damage closes the coast'
        " road for a week</a></p>",
        '<h3>Lea también: <a href="https://news.example.org/es/rio.html">El río crece otra vez'
        " en el valle</a></h3>",
        '<p>The engineers said the <a href="/reports/levee.html">levee report of last spring'
        "</a> found no weakness at all.</p>",
        '<p>Data: <a href="https://survey.example.com/rivers">National survey of river'
        " levels in 2024</a></p>",
    )
    paras = [f"<p>{p}</p>" for p in PARAS]
    body = "".join(x for pair in zip(paras, lines, strict=True) for x in pair)
    page = (
        "<html><head><title>Floods reach the lower town</title></head><body><article>"
        f"<h1>Floods reach the lower town</h1>{body}{''.join(paras)}</article></body></html>"
    )
    md = extract_article(page, URL).markdown
    assert "Storm damage closes" not in md and "Read more" not in md
    assert "El río crece" not in md
    # a sentence with a link, and a label pointing to another site, are the article's
    assert "levee report of last spring found no weakness at all." in md
    assert "Data: National survey of river levels in 2024" in md
    assert md.count(PARAS[3]) == 2


def _page_with_cards(cards: int, target: str = "/world/2024/story-{}.html") -> str:
    card = (
        '<div class="card"><h3><a href="' + target + '">Story number {} of the other news'
        "</a></h3><p>Summary {} of a story elsewhere on the site, told in a sentence or"
        " two for the reader who wants more.</p></div>"
    )
    stream = "".join(card.format(i, i, i) for i in range(cards))
    paras = "".join(f"<p>{p}</p>" for p in PARAS)
    return (
        "<html><head><title>Floods reach the lower town</title></head><body><article>"
        f"<h1>Floods reach the lower town</h1>{paras}{stream}{paras}</article></body></html>"
    )


def test_a_stream_of_teaser_cards_is_left_out() -> None:
    # cards: a heading that only links to another page of the site, its summary under it
    md = extract_article(_page_with_cards(3), URL).markdown
    assert "Summary" not in md and md.count(PARAS[0]) == 2


def test_one_or_two_linked_headings_over_their_paragraphs_are_the_articles() -> None:
    # an article's sections may each link to a page of their own
    assert extract_article(_page_with_cards(2), URL).markdown.count("Summary") == 2
    # cards whose heading links to this very page are no teasers of other pages
    page = _page_with_cards(3, target=URL + "#part-{}")
    assert extract_article(page, URL).markdown.count("Summary") == 3


def test_a_picture_linked_where_a_headline_links_is_a_teaser() -> None:
    extra = (
        '<div class="more"><a href="/world/2024/drought.html"><img src="/thumbs/drought.jpg"'
        ' alt="Dry field"></a><a href="/world/2024/drought.html">Drought follows the'
        " floods in the south</a></div>"
        '<p><a href="/img/levee-large.jpg"><img src="/img/levee.jpg" alt="The levee after'
        ' the flood"></a></p>'
    )
    a = extract_article(article_page(extra=extra), URL)
    assert "drought.jpg" not in a.content_html and "Dry field" not in a.markdown
    # a picture linked to its own larger version is the article's
    assert "/img/levee.jpg" in a.content_html
    assert "*The levee after the flood*" in _lines(a.markdown)


def test_a_picture_the_page_shows_again_and_again_is_the_sites() -> None:
    badge = '<p><img src="/site/badge.png" alt="Valley Times badge"></p>'
    formula = (
        '<p>The level <img src="/math/h.png" alt="h"> rose while <img src="/math/h.png"'
        ' alt="h"> and <img src="/math/h.png" alt="h"> were measured at the gauge.</p>'
    )
    lazy = "".join(
        f'<p><img src="/site/loading.gif" data-src="/img/step{i}.jpg" alt="Step {i} of the'
        ' repair"></p>'
        for i in range(3)
    )
    a = extract_article(article_page(extra=badge * 3 + formula + lazy), URL)
    assert "badge.png" not in a.content_html and "badge" not in a.markdown
    # a symbol inside a sentence and lazy pictures sharing a placeholder are the article's
    assert a.content_html.count("/math/h.png") == 3
    for i in range(3):
        assert f"/img/step{i}.jpg" in a.content_html
        assert f"*Step {i} of the repair*" in _lines(a.markdown)


def test_article_md_writes_one_spelling_of_the_same_text() -> None:
    # "é" written as e + combining accent, and a Bengali letter in its composed form:
    # article.md holds them as the Web writes text (NFC), so a search finds them
    extra = "<p>The caf\u0065\u0301 by the river and the \u09df sign were under water.</p>"
    md = extract_article(article_page(extra=extra), URL).markdown
    assert "The caf\u00e9 by the river and the \u09af\u09bc sign were under water." in md
    assert "\u0301" not in md and "\u09df" not in md


def test_article_md_has_no_soft_hyphens_and_the_reader_page_keeps_them() -> None:
    extra = "<p>Die gro&szlig;en Wei&shy;ne Ita\u00adli\u00adens stan&shy;den am Fluss.</p>"
    a = extract_article(article_page(extra=extra), URL)
    assert "Die großen Weine Italiens standen am Fluss." in a.markdown
    assert "\u00ad" not in a.markdown
    assert "Ita\u00adli\u00adens" in a.content_html  # a browser may still hyphenate there


def test_a_box_holding_the_articles_paragraphs_is_kept_whatever_its_class_says() -> None:
    paras = "".join(f"<p>{p}</p>" for p in PARAS * 3)
    page = (
        "<html><head><title>Floods reach the lower town</title></head><body>"
        '<div class="layout"><h1>Floods reach the lower town</h1>'
        f'<section class="article__content js-truncate-related-to-my-size">{paras}</section>'
        '<section class="related-links"><p><a href="/a">Drought in the south, a report'
        "</a></p></section></div><ul>"
        + "".join(
            f'<li><a href="/s/{i}">Section of the site number {i}</a></li>' for i in range(200)
        )
        + "</ul></body></html>"
    )
    md = extract_article(page, URL).markdown
    assert all(md.count(p) == 3 for p in PARAS)
    assert "Drought in the south" not in md  # a box of related links still goes


def test_line_breaks_in_code_and_blocks_in_table_cells_keep_words_apart() -> None:
    # a code block written with <br> keeps its lines; a table cell holding a heading
    # and lines of links keeps a space between them (no "Minecraft.netRealms")
    rows = "".join(
        f"<tr><td><h2>Links {i}:</h2><a href='/a'>Site one</a><br>"
        f"<a href='/b'>Site two</a></td><td>Second cell {i}</td></tr>"
        for i in range(3)
    )
    extra = (
        "<pre><code><span>const a = 1;</span><br><span>const b = 2;</span></code></pre>"
        f"<table>{rows}</table>"
    )
    md = extract_article(article_page(extra=extra), URL).markdown
    assert "```\nconst a = 1;\nconst b = 2;\n```" in md
    row = next(line for line in md.splitlines() if "Links 1" in line)
    assert row == "| Links 1: Site one Site two | Second cell 1 |"


def test_a_table_after_loose_text_in_a_box_is_in_article_md() -> None:
    # trafilatura keeps such a table as the page wrote it (HTML rows, no row/cell)
    rows = "".join(
        f"<tr><td>{i}</td><td>Engraving number {i} of the series, a nude felling a tree</td>"
        f"<td>19{10 + i}</td></tr>"
        for i in range(12)
    )
    extra = f"<div><div>Works of the engraver<table><tbody>{rows}</tbody></table></div></div>"
    md = extract_article(article_page(extra=extra), URL).markdown
    row = "| 3 | Engraving number 3 of the series, a nude felling a tree | 1913 |"
    assert row in md.splitlines()


def test_a_page_that_writes_its_article_straight_into_body_keeps_its_figures() -> None:
    paras = [f"<p>{p}</p>" for p in PARAS * 2]
    figure = (
        '<figure><img src="/img/flood.jpg" alt="Flooded main street">'
        "<figcaption>Main street at dawn. Photo: Ana Ruiz</figcaption></figure>"
    )
    body = "".join(paras[:3]) + figure + "".join(paras[3:])
    page = f"<html><head><title>Floods</title></head><body>{body}</body></html>"
    a = extract_article(page, URL)
    assert "*Flooded main street — Main street at dawn. Photo: Ana Ruiz*" in _lines(a.markdown)
    assert "/img/flood.jpg" in a.content_html
    # blocks kept from two boxes of the page: the picture between them is no one's
    boxes = f"<div>{''.join(paras[:3])}</div>{figure}<section>{''.join(paras[3:])}</section>"
    page = f"<html><head><title>Floods</title></head><body>{boxes}</body></html>"
    assert "/img/flood.jpg" not in extract_article(page, URL).content_html


def test_a_table_that_lays_out_the_page_gives_way_to_its_paragraphs() -> None:
    # an old page's layout: a menu cell beside the cell that holds the article
    blocks = [f"<p>{p}</p>" for p in PARAS]
    blocks.insert(2, '<img src="/img/flood.jpg" alt="Flooded main street">')
    paras = "".join(f"<p>{p}</p>" for p in PARAS)
    layout = (
        "<table><tr><td><a href='/a'>Menu</a></td>"
        f"<td><h2>Floods</h2>{''.join(blocks)}</td></tr></table>"
    )
    page = f"<html><head><title>Floods</title></head><body>{layout}</body></html>"
    a = extract_article(page, URL)
    assert not any(line.startswith("|") for line in a.markdown.splitlines())
    blocks = a.markdown.strip().split("\n\n")
    for p in PARAS:
        assert p in blocks  # each paragraph a paragraph of its own
    # the picture at its place among them (the cell's box gave way to its blocks)
    assert blocks.index("*Flooded main street*") == blocks.index(PARAS[2]) - 1
    assert "<table" not in a.content_html
    # a data table whose cells hold a little each stays a table, lists in cells and all
    rows = "".join(
        f"<tr><th>Gauge {i}</th><td><ul><li>{i}.2 m at dawn</li><li>{i}.5 m at noon</li></ul></td>"
        "</tr>"
        for i in range(8)
    )
    data = f"<article>{paras}<table>{rows}</table></article>"
    page = f"<html><head><title>Floods</title></head><body>{data}</body></html>"
    md = extract_article(page, URL).markdown
    assert any(line.startswith("| Gauge 3 |") for line in md.splitlines())


def test_paragraphs_written_as_divs_keep_their_links_and_pictures() -> None:
    blocks = [f"<div>{p}</div>" for p in PARAS]
    blocks[1] = blocks[1].replace("school", "<a href='/shelters'>school</a>")
    blocks.insert(2, '<div><img src="/img/flood.jpg" alt="Flooded main street"></div>')
    story = f"<div class='story'>{''.join(blocks)}</div>"
    page = f"<html><head><title>Floods</title></head><body>{story}</body></html>"
    a = extract_article(page, URL)
    assert "*Flooded main street*" in _lines(a.markdown)
    assert '<a href="https://news.example.org/shelters">school</a>' in a.content_html


def test_a_lead_figure_above_the_headline_in_the_articles_box_is_kept() -> None:
    lead = (
        '<figure><img src="/img/flood.jpg" alt="Flooded main street">'
        "<figcaption>Main street at dawn. Photo: Ana Ruiz</figcaption></figure>"
    )
    icon = '<img src="/img/print.png" alt="Print this page">'
    paras = "".join(f"<p>{p}</p>" for p in PARAS)
    post = f"<div class='post'>{icon}{lead}<h1>Floods reach the lower town</h1>{paras}</div>"
    page = f"<html><head><title>Floods</title></head><body>{post}</body></html>"
    a = extract_article(page, URL)
    assert "*Flooded main street — Main street at dawn. Photo: Ana Ruiz*" in _lines(a.markdown)
    # above the text, a figure only, and the one nearest to it: no icons, no gallery
    assert "print.png" not in a.content_html


def test_pictures_keep_the_pages_order_between_two_blocks_and_after_the_last() -> None:
    def figure(name: str) -> str:
        caption = f"<figcaption>The {name} picture</figcaption>"
        return f'<figure><img src="/img/{name}.jpg" alt="{name}">{caption}</figure>'

    paras = [f"<p>{p}</p>" for p in PARAS]
    body = paras[0] + figure("one") + figure("two") + "".join(paras[1:]) + figure("three")
    page = f"<html><head><title>Floods</title></head><body><article>{body}</article></body></html>"
    html = extract_article(page, URL).content_html
    at = [html.index(f"/img/{name}.jpg") for name in ("one", "two", "three")]
    assert at == sorted(at)
    assert html.index(PARAS[0]) < at[0] and at[1] < html.index(PARAS[1])


def test_a_layout_table_copied_as_written_gives_way_with_its_tbody_rows() -> None:
    # trafilatura copies some tables as the page wrote them: <tbody>, <tr>, <td>
    story = "".join(f"<p>{p}</p>" for p in PARAS)
    inner = "<table><tr><td>1.2 m</td><td>dawn</td></tr></table>"
    body = etree.fromstring(
        f"<body><table><tbody><tr><td>Menu</td><td>{story}{inner}</td></tr></tbody>"
        "</table>After.</body>"
    )
    extract._unwrap_layout_tables(body)
    assert [c.tag for c in body] == ["div", "div"] and body[-1].tail == "After."
    assert [p.text for p in body[1].iter("p")] == PARAS
    assert body[1].find("table") is not None  # a data table inside stays a table


def test_a_figure_whose_picture_a_script_loads_keeps_it_as_its_microdata_names_it() -> None:
    # no <img> in the markup, only a placeholder a script fills; the figure names its
    # picture as a schema.org ImageObject, so the picture and its caption stay
    extra = (
        '<figure itemprop="associatedMedia" itemscope itemtype="http://schema.org/ImageObject"'
        ' itemid="https://static.example.org/img/levee.jpg?quality=90">'
        '<div data-testid="lazyimage-container" style="height:250px"></div>'
        "<figcaption>The levee at noon.<span>Credit</span><span>Ana Ruiz</span></figcaption>"
        "</figure>"
        '<figure itemscope itemtype="https://schema.org/ImageObject">'
        '<meta itemprop="contentUrl" content="/img/bridge.jpg"><div></div>'
        "<figcaption>The old bridge.</figcaption></figure>"
    )
    a = extract_article(article_page(extra=extra), URL)
    assert 'src="https://static.example.org/img/levee.jpg?quality=90"' in a.content_html
    assert 'src="https://news.example.org/img/bridge.jpg"' in a.content_html
    assert "*The levee at noon. Credit Ana Ruiz*" in _lines(a.markdown)
    assert "*The old bridge.*" in _lines(a.markdown)


def test_an_image_keeps_the_caption_it_names_with_aria_describedby() -> None:
    # how WordPress writes a captioned image: no <figure>, the caption in a <p> beside it
    extra = (
        '<div id="attachment_9" class="wp-caption aligncenter">'
        '<img aria-describedby="caption-attachment-9" src="/img/pumps.jpg" alt="Two pumps"'
        ' width="800" height="400">'
        '<p id="caption-attachment-9" class="wp-caption-text">The pumps ran all night.</p></div>'
    )
    a = extract_article(article_page(extra=extra), URL)
    assert "*Two pumps — The pumps ran all night.*" in _lines(a.markdown)
    assert a.markdown.count("The pumps ran all night.") == 1
    assert "<figcaption>The pumps ran all night.</figcaption>" in a.content_html


def test_a_caption_the_page_writes_after_the_wrappers_of_its_picture_is_its_caption() -> None:
    # no <figure>, no aria-describedby: the caption is the element after the boxes that
    # only hold the picture, and its class says it is a caption or a credit, or it is a
    # plain text that opens with the picture's alt (the page wrote the caption there too)
    extra = (
        '<div class="media-container"><div class="image-wrapper"><div class="image">'
        '<img src="/img/gauge.jpg"></div></div></div>'
        '<div class="media-caption">The gauge at nine metres - Image: River Office</div>'
        '<div class="media-container"><div class="image"><img src="/img/dam.jpg"></div>'
        '<p>The dam held through the night.</p></div>'
        '<div class="media-caption">Not the caption of a box that holds text too</div>'
        '<img src="/img/bank.jpg"><div class="note">Not named a caption</div>'
        '<p><span class="image"><img src="/img/weir.jpg" alt=""><span class="photo-credit">'
        "(Picture: Ana Ruiz)</span></span></p>"
        '<div class="media"><a href="/img/pump-large.jpg"><img src="/img/pump.jpg"'
        ' alt="The pumps ran all night"></a><div>The pumps ran all night (Photo: Lee Mar)'
        "</div></div>"
        # a card's title that repeats the alt is no caption, nor is a linked text
        '<div class="feature"><img src="/img/icon-a.jpg" alt="Levee repair works">'
        "<h3>Levee repair works</h3></div>"
        '<div class="shop"><img src="/img/boots.jpg" alt="Rubber boots for floods">'
        '<p>Rubber boots for floods 30 € <a href="/shop">Buy now</a></p></div>'
        # the line under a picture in italics, to the end of its paragraph; not italics
        # the paragraph's text goes on after
        '<p><img src="/img/truck.jpg" alt="A red truck"><br><em>The truck came at dawn.'
        " Photo: Kim Oda</em></p>"
        '<p><img src="/img/weir.jpg" alt="The weir"><br><em>Down at the weir</em> the'
        " water had already risen past the second mark by noon.</p>"
    )
    a = extract_article(article_page(extra=extra), URL)
    lines = _lines(a.markdown)
    assert "*The gauge at nine metres - Image: River Office*" in lines
    assert "*(Picture: Ana Ruiz)*" in lines
    assert "*The pumps ran all night (Photo: Lee Mar)*" in lines
    assert "*A red truck — The truck came at dawn. Photo: Kim Oda*" in lines
    for credit in ("River Office", "Ana Ruiz", "Lee Mar", "Kim Oda"):
        assert a.markdown.count(credit) == 1
    assert "*The weir*" in lines and "Down at the weir the water had already" in a.markdown
    assert "### Levee repair works" in a.markdown
    assert not re.search(r"boots\.jpg[^>]*><figcaption>", a.content_html)
    assert re.search(r"<figure><img [^>]*gauge\.jpg[^>]*><figcaption>The gauge", a.content_html)
    assert "dam.jpg" in a.content_html and "bank.jpg" in a.content_html
    assert not re.search(r"dam\.jpg[^>]*><figcaption>", a.content_html)
    assert not re.search(r"bank\.jpg[^>]*><figcaption>", a.content_html)


def test_an_alt_the_caption_repeats_is_written_once_soft_hyphens_aside() -> None:
    extra = (
        '<figure><img src="/img/tool.jpg" alt="Schematisch Schaber und Arbeitskante">'
        "<figcaption>Sche\u00adma\u00adtisch Scha\u00adber und Arbeitskante</figcaption>"
        "</figure>"
    )
    a = extract_article(article_page(extra=extra), URL)
    # once: alt and caption are the same words (article.md writes them without the hints)
    assert _lines(a.markdown).count("*Schematisch Schaber und Arbeitskante*") == 1
    assert a.markdown.count("Schematisch") == 1


def _page_with_lead(header: str, headline: str = "h1", box: str = "main") -> str:
    paras = "".join(f"<p>{p}</p>" for p in PARAS * 2)
    return f"""<!DOCTYPE html><html lang="en"><head>
<title>Floods reach the lower town | Valley Times</title></head><body>
<nav><a href="/">Home</a> <a href="/world">World</a></nav>
<{box}><header class="article-head">
<div class="kicker">World</div><{headline}>Floods reach the lower town</{headline}>{header}
</header>
<div class="story-body">{paras}</div></{box}>
<footer>Copyright Valley Times</footer></body></html>"""


LEAD = (
    "After the heaviest rain in forty years the river broke through the levee, and"
    " officials are asking how a wall inspected last spring could fail."
)


@pytest.mark.parametrize("headline", ["h1", "h3"])  # some sites write the headline as <h3>
def test_a_lead_in_a_box_of_its_own_under_the_headline_opens_the_body(headline: str) -> None:
    header = (
        f'<div class="teaser-text"><p>{LEAD}</p></div>'
        f'<div class="teaser-text mobile"><p>{LEAD}</p></div>'  # the same for small screens
        '<div class="byline">By Mara Quist, who has covered the valley and its rivers for the'
        " Valley Times since the last great flood of the century</div>"
        '<p class="meta"><time datetime="2024-03-14">14 March 2024</time>, updated twice'
        " since then as the water kept rising in the lower town and further down</p>"
        '<div class="share-tools">Share this story with your friends and family on every'
        " network you like to use, every day of the week</div>"
    )
    a = extract_article(_page_with_lead(header, headline), URL)
    blocks = [b for b in a.markdown.split("\n\n") if b.strip()]
    assert blocks[0].strip() == LEAD
    assert blocks[1].startswith(PARAS[0])
    assert a.markdown.count(LEAD) == 1
    for furniture in ("Mara Quist", "14 March 2024", "Share this story"):
        assert furniture not in a.markdown
    assert f"<p>{LEAD}</p>" in a.content_html


def test_a_lead_box_that_holds_a_picture_and_its_caption_is_the_lead_picture() -> None:
    # a picture above the body with its caption, in a <p> of the header, in a page with
    # no <article> or <main> box: no lead text but the lead picture, its caption under it
    caption = (
        "The lower town seen from the levee at dawn, a day after the river broke through"
        " (Photo: Ana Ruiz / River Office)"
    )
    header = (
        '<p><span class="image"><a href="/img/town-large.jpg"><img src="/img/town.jpg" alt="">'
        f'</a></span><span class="image-caption">{caption}</span></p>'
    )
    # or in a box of its own right before the caption, which opens with its alt text
    alt = "The lower town seen from the levee at dawn"
    beside = (
        f'<div class="picture"><img src="/img/town.jpg" alt="{alt}"></div>'
        f"<p><small>{caption}</small></p>"
    )
    for written in (header, beside):
        a = extract_article(_page_with_lead(written, box="div"), URL)
        assert f"*{caption}*" in _lines(a.markdown)
        assert a.markdown.count("Ana Ruiz") == 1
        figure = r"<figure><img [^>]*town\.jpg[^>]*><figcaption>The lower town"
        assert re.search(figure, a.content_html)
    # a lead of text with a picture in it stays a lead
    header = f'<div class="teaser-text"><p><img src="/img/icon.jpg" alt="">{LEAD}</p></div>'
    a = extract_article(_page_with_lead(header, box="div"), URL)
    assert a.markdown.split("\n\n")[0] == LEAD


def test_boxes_around_the_bodys_blocks_give_way_to_what_they_hold() -> None:
    # trafilatura's fallback extractors hand back the page's boxes: the blocks, loose
    # text and inline markup become the body's own, in their order
    body = etree.fromstring(
        "<body><div><div>Loose <hi>words</hi> here<lb/>and more<p>A paragraph</p>"
        "<list><item>An item</item></list>tail text</div></div>after<p>Last</p></body>"
    )
    extract._unwrap_boxes(body)
    assert [c.tag for c in body] == ["p", "p", "list", "p", "p", "p"]
    assert [extract._flat("".join(c.itertext())) for c in body] == [
        "Loosewordshereandmore", "Aparagraph", "Anitem", "tailtext", "after", "Last"
    ]
    assert etree.tostring(body[0], encoding="unicode") == (
        "<p>Loose <hi>words</hi> here<lb/>and more</p>"
    )


def test_a_caption_kept_as_loose_text_beside_its_picture_is_written_once() -> None:
    # a credit in a box of inline elements between paragraphs: trafilatura keeps its
    # text loose between the blocks; under its picture it is the picture's caption
    extra = (
        '<span class="image"><img src="/img/dam.jpg" alt=""><span class="photo-credit">'
        "(Picture: Ana Ruiz)</span></span>"
    )
    a = extract_article(article_page(extra=extra), URL)
    assert a.markdown.count("Ana Ruiz") == 1 and "*(Picture: Ana Ruiz)*" in _lines(a.markdown)

