"""Page metadata from each source: JSON-LD, OpenGraph, <meta>, byline markup, <title>."""

from __future__ import annotations

import json

import pytest
from lxml import html as lxml_html

from mirror.capture import metadata
from mirror.capture.metadata import (
    normalise_date,
    normalise_language,
    read_metadata,
    strip_site_suffix,
)

URL = "https://news.example.org/2024/05/story.html"
BODY = "<p>" + "Some article text that goes on for a while. " * 20 + "</p>"


def page(head: str = "", body: str = BODY, html_attrs: str = "") -> lxml_html.HtmlElement:
    return lxml_html.fromstring(f"<html {html_attrs}><head>{head}</head><body>{body}</body></html>")


def ld(obj: object) -> str:
    return f'<script type="application/ld+json">{json.dumps(obj)}</script>'


def test_json_ld_author_list_of_objects_and_strings() -> None:
    m = read_metadata(
        page(
            ld(
                {
                    "@context": "https://schema.org",
                    "@type": "NewsArticle",
                    "headline": "Rivers rise in the north",
                    "author": [{"@type": "Person", "name": "Ana Lima"}, "Bo Chen"],
                    "datePublished": "2024-05-01T08:30:00Z",
                    "publisher": {"@type": "Organization", "name": "The Example"},
                }
            )
        ),
        URL,
    )
    assert m.authors == ("Ana Lima", "Bo Chen")
    assert m.title == "Rivers rise in the north"
    assert m.published == "2024-05-01T08:30:00+00:00"
    assert m.site_name == "The Example"


def test_json_ld_graph_finds_the_article_among_other_nodes() -> None:
    graph = {
        "@context": "https://schema.org",
        "@graph": [
            {"@type": "WebSite", "name": "Example Site"},
            {"@type": "BreadcrumbList", "name": "crumbs"},
            {
                "@type": ["BlogPosting"],
                "headline": "A graph-borne headline",
                "author": {"@type": "Person", "name": "Chidi Okeke"},
            },
        ],
    }
    m = read_metadata(page(ld(graph)), URL)
    assert m.authors == ("Chidi Okeke",)
    assert m.title == "A graph-borne headline"


def test_json_ld_of_other_types_is_ignored_and_bad_json_tolerated() -> None:
    head = (
        '<script type="application/ld+json">{not json</script>'
        f'<script type="application/ld+json">{"[" * 100_000}</script>'
        + ld({"@type": "Organization", "name": "Not The Title", "author": "Nobody Here"})
        + '<meta name="author" content="Dana Fox">'
    )
    m = read_metadata(page(head + "<title>Real page title for this story</title>"), URL)
    assert m.authors == ("Dana Fox",)
    assert m.title == "Real page title for this story"


def test_json_ld_with_raw_line_breaks_in_strings_or_a_closing_semicolon_is_read() -> None:
    article = {"@type": "BlogPosting", "author": {"@type": "Person", "name": "Ines Duarte"}}
    raw = json.dumps({**article, "articleBody": "LINE_ONE"}).replace("LINE_ONE", "one\ntwo")
    assert "\n" in raw  # a line break json.dumps would have escaped
    for script in (raw, json.dumps(article) + ";"):
        head = f'<script type="application/ld+json">{script}</script>'
        assert read_metadata(page(head), URL).authors == ("Ines Duarte",)


def test_opengraph_tags() -> None:
    head = (
        '<meta property="og:title" content="Open Graph headline here">'
        '<meta property="og:site_name" content="Graph Daily">'
        '<meta property="article:published_time" content="2023-11-02">'
        '<meta property="og:description" content="What happened.">'
        '<meta property="og:url" content="/canonical/story">'
        "<title>Something else entirely | Graph Daily</title>"
    )
    m = read_metadata(page(head), URL)
    assert m.title == "Open Graph headline here"
    assert m.site_name == "Graph Daily"
    assert m.published == "2023-11-02"
    assert m.description == "What happened."
    assert m.canonical_url == "https://news.example.org/canonical/story"


def test_article_author_url_is_not_a_name() -> None:
    head = '<meta property="article:author" content="https://www.facebook.com/someone">'
    assert read_metadata(page(head), URL).authors == ()


@pytest.mark.parametrize(
    "name", ["author", "dc.creator", "DC.creator", "parsely-author", "sailthru.author", "byl"]
)
def test_meta_author_variants(name: str) -> None:
    head = f'<meta name="{name}" content="  By  Eva   Marsh ">'
    assert read_metadata(page(head), URL).authors == ("Eva Marsh",)


def test_byline_markup_rel_author_beats_class_byline() -> None:
    body = (
        '<div class="byline">By Greta Holm | Staff writer</div>'
        '<p>Text</p><a rel="author" href="/u/g">Greta Holm</a>' + BODY
    )
    assert read_metadata(page(body=body), URL).authors == ("Greta Holm",)


def test_byline_markup_class_with_date_and_itemprop_name() -> None:
    body = '<div class="post-byline">By Ivo Petrov May 20, 2019</div>' + BODY
    assert read_metadata(page(body=body), URL).authors == ("Ivo Petrov",)
    body = (
        '<span itemprop="author" itemscope><span itemprop="name">Jo Park</span>'
        "<span>Senior editor</span></span>" + BODY
    )
    assert read_metadata(page(body=body), URL).authors == ("Jo Park",)


def test_byline_markup_skips_hidden_comments_and_lookalikes() -> None:
    body = (
        '<div id="authorization">Sign in | Sign up</div>'
        '<div class="byline" style="display:none">Hidden Person</div>'
        '<div class="follow-author">Follow Author</div>'
        '<section class="comments"><span class="comment-author">Troll</span></section>' + BODY
    )
    assert read_metadata(page(body=body), URL).authors == ()


def test_an_author_box_that_goes_on_is_read_up_to_its_first_block() -> None:
    rating = "<div class='rating'><form>" + "<option>5</option>" * 40 + "12 votes</form></div>"
    body = f'<div class="author"><a href="/a/gq">Georg Quaas</a>, 21. Jan. 2015 {rating}</div>'
    assert read_metadata(page("", body + BODY), URL).authors == ("Georg Quaas",)
    # a label before a list of links names nobody: the next byline is the author's
    filed = "<nav class='byline'><span>Filed under:</span><ul>" + "<li>Topic</li>" * 30
    body = filed + "</ul></nav><div class='byline'>By Dana Fox</div>"
    assert read_metadata(page("", body + BODY), URL).authors == ("Dana Fox",)


def test_user_handle_in_json_ld_yields_to_markup_name() -> None:
    head = ld({"@type": "Article", "headline": "Some headline", "author": "CC7567"})
    body = '<div class="byline">Kim Navarro • 8h</div>' + BODY
    assert read_metadata(page(head, body), URL).authors == ("Kim Navarro",)
    # with nobody else named, the handle is still better than nothing
    assert read_metadata(page(head), URL).authors == ("CC7567",)


def test_json_ld_author_named_once_in_the_graph_and_pointed_at_by_id() -> None:
    person = {"@type": "Person", "@id": "https://x.example/#/person/1", "name": "Ana Ruiz"}
    article = {"@type": "Article", "headline": "H", "author": {"@id": person["@id"]}}
    assert read_metadata(page(ld({"@graph": [article, person]})), URL).authors == ("Ana Ruiz",)
    # a page object (no article object at all) still names its author
    webpage = {"@type": "WebPage", "name": "H", "author": {"@id": person["@id"]}}
    m = read_metadata(page(ld({"@graph": [webpage, person]})), URL)
    assert m.authors == ("Ana Ruiz",)
    # an @id that names nothing is not a name, and an odd @id does not break the page
    dangling = {"@type": "Article", "author": [{"@id": "#nobody"}, {"@id": ["odd"]}]}
    assert read_metadata(page(ld(dangling)), URL).authors == ()


@pytest.mark.parametrize("author", ["Graph Daily", "graph-daily", "news.example.org"])
def test_the_sites_own_name_as_author_yields_to_the_byline(author: str) -> None:
    head = ld({"@type": "Article", "headline": "H", "author": author})
    head += '<meta property="og:site_name" content="Graph Daily">'
    body = '<p class="author">Kim Navarro</p>' + BODY
    assert read_metadata(page(head, body), URL).authors == ("Kim Navarro",)
    # with nobody else named, the site is still better than nothing
    assert read_metadata(page(head), URL).authors == (author,)


@pytest.mark.parametrize("author", ["Graph Daily", "graph-daily"])
def test_the_sites_own_name_as_author_yields_to_a_byline_in_the_text(author: str) -> None:
    head = ld({"@type": "NewsArticle", "headline": "H", "author": {"name": author}})
    head += '<meta property="og:site_name" content="Graph Daily">'
    # a box of lines: its first line is read by itself, not run into the next
    body = (
        '<div class="info"><p>Von <a href="/kim">Kim Navarro</a></p>'
        "<p><a href='/archiv'>Mi, 18. Oktober 2023</a> um 12:50 Uhr</p></div>" + BODY
    )
    assert read_metadata(page(head, body), URL).authors == ("Kim Navarro",)


def test_a_dotted_user_name_yields_to_the_byline() -> None:
    head = ld({"@type": "Article", "headline": "H", "author": {"name": "kim.navarro"}})
    body = '<span class="byline">Kim Navarro</span>' + BODY
    assert read_metadata(page(head, body), URL).authors == ("Kim Navarro",)


@pytest.mark.parametrize(
    ("byline", "name"),
    [
        ("Post author By Helge Mayr", "Helge Mayr"),
        ("Autor: Gabor Munier , Datum: 15.06.19 , Kommentare: 0", "Gabor Munier"),
        ("Автор: Иван Петров", "Иван Петров"),
        ("Written by Jane Doe", "Jane Doe"),
        ("Authored Works", "Authored Works"),  # not a label
        ("veröffentlicht von Anna Berg", "Anna Berg"),
        ("Jörn Mecher am 08.12.2022", "Jörn Mecher"),
        ("Redacci&amp;oacute;n Diario", "Redacción Diario"),  # escaped twice
        ("Byron Smith", "Byron Smith"),
        ("Posted on September 21, 2020 by Adi Tzlil", "Adi Tzlil"),
        (
            "erstellt von <a href='/a/d'>Dominique</a> — <span>veröffentlicht</span> 28.01.2022",
            "Dominique",
        ),
        ("MORITZ GATHMANN am 21. April 2020", "MORITZ GATHMANN"),
        ("Georg Quaas, 21. Jan. 2015", "Georg Quaas"),
        # a date in another language's form ends the name, with what labels it
        ("Por Juan Pérez, 4 de mayo de 2022", "Juan Pérez"),
        ("Sara Zinnecker Stand: 05. Februar 2020", "Sara Zinnecker"),
        ("Isabella Bianchi am Samstag, 19. Oktober 2019 um 10:02", "Isabella Bianchi"),
        ("Ana Lima 04/05/2022 10h30", "Ana Lima"),
        ("Christian Thiele, 07 Dezember, 2022", "Christian Thiele"),
        ("Houzz Deutschland vor 5 Stunden", "Houzz Deutschland"),
        ("Isabel Caro y José Wilson<span>hace 13 horas</span>", "Isabel Caro y José Wilson"),
        ("Jo Park 5 hours ago", "Jo Park"),
        # words only a style sheet spaces are apart; a slash that joins stays
        ("Von<a href='/a/e'>Eurosport</a>Publiziert 02/02/2022 um 09:23 GMT", "Eurosport"),
        ("red, wien.ORF.at/<a href='/ag'>Agenturen</a>", "red, wien.ORF.at/Agenturen"),
    ],
)
def test_byline_labels_in_several_languages_are_not_the_name(byline: str, name: str) -> None:
    body = f'<div class="byline">{byline}</div>' + BODY
    assert read_metadata(page("", body), URL).authors == (name,)


@pytest.mark.parametrize(
    "byline", ["4 de mayo de 2022", "Publicado el 04 de maio de 2022 às 10:30", "Mardi 4 mai 2022"]
)
def test_a_byline_box_holding_only_a_date_names_nobody(byline: str) -> None:
    body = f'<div class="byline">{byline}</div>' + BODY
    assert read_metadata(page("", body), URL).authors == ()


FLOODS = "Floods close the coastal road"


@pytest.mark.parametrize(
    ("title", "site", "expected"),
    [
        (f"{FLOODS} | Graph Daily", "Graph Daily", FLOODS),
        (f"Graph Daily - {FLOODS}", "Graph Daily", FLOODS),
        (f"{FLOODS} – News – Graph Daily", "Graph Daily", f"{FLOODS} – News"),
        # the host name counts as the site name
        (f"{FLOODS} · Example", None, FLOODS),
        # a short title is not cut to a stub
        ("Mozilla - Wikipedia", "Wikipedia", "Mozilla - Wikipedia"),
        # a separator inside the headline is not a site suffix
        ("Left - right politics explained", "Graph Daily", "Left - right politics explained"),
    ],
)
def test_title_suffix_stripping(title: str, site: str | None, expected: str) -> None:
    assert strip_site_suffix(title, site, "https://example.com/a") == expected


def test_title_from_document_title_drops_trailing_site_part() -> None:
    head = "<title>Quiet streets after the storm in the valley | Valley Times</title>"
    assert read_metadata(page(head), URL).title == "Quiet streets after the storm in the valley"


def test_title_never_cut_to_few_words() -> None:
    head = "<title>Mozilla - Wikipedia</title>"
    assert read_metadata(page(head), URL).title == "Mozilla - Wikipedia"


def test_rtl_direction_from_markup_and_from_language() -> None:
    m = read_metadata(page(html_attrs='lang="ar" dir="rtl"'), URL)
    assert (m.language, m.direction) == ("ar", "rtl")
    m = read_metadata(page(html_attrs='lang="fa-IR"'), URL)
    assert (m.language, m.direction) == ("fa-IR", "rtl")
    m = read_metadata(page(body=f'<div dir="rtl">{BODY}</div>', html_attrs='lang="en"'), URL)
    assert m.direction == "ltr"  # only <html>/<body> dir speaks for the page
    assert read_metadata(page(), URL).direction is None


def test_language_from_html_lang_wins_over_meta() -> None:
    head = (
        '<meta http-equiv="Content-Language" content="de">'
        '<meta property="og:locale" content="fr_FR">'
    )
    assert read_metadata(page(head, html_attrs='lang="pt_br"'), URL).language == "pt-BR"
    assert read_metadata(page(head), URL).language == "de"
    head = '<meta property="og:locale" content="fr_FR">'
    assert read_metadata(page(head), URL).language == "fr-FR"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("en_us", "en-US"),
        ("zh-hant-tw", "zh-Hant-TW"),
        ("EN", "en"),
        ("not a language", None),
        ("", None),
    ],
)
def test_normalise_language(value: str, expected: str | None) -> None:
    assert normalise_language(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2018-04-05T06:00", "2018-04-05T06:00:00"),
        ("2019-01-03T07:00:02.000Z", "2019-01-03T07:00:02+00:00"),
        ("2020-09-21", "2020-09-21"),
        ("2017-03-09 23:16:02", "2017-03-09T23:16:02"),
        ("Fri, 24 Jul 2015 05:36:09 +0100", "2015-07-24T05:36:09+01:00"),
        ("2015-07-24T05:36:09+0100 trailing junk", "2015-07-24"),
        ("yesterday", None),
    ],
)
def test_normalise_date(value: str, expected: str | None) -> None:
    assert normalise_date(value) == expected


def test_canonical_link_resolved_and_non_http_dropped() -> None:
    head = '<link rel="canonical" href="../story.html">'
    assert (
        read_metadata(page(head), URL).canonical_url == "https://news.example.org/2024/story.html"
    )
    head = '<link rel="canonical" href="javascript:alert(1)">'
    assert read_metadata(page(head), URL).canonical_url is None


def test_a_date_no_structured_data_states_is_found_in_the_page() -> None:
    body = "<p class='date'>Published on 14 March 2024</p>" + BODY
    tree = page("<title>Floods</title>", body)
    before = lxml_html.tostring(tree)
    assert read_metadata(tree, URL).published == "2024-03-14"
    assert lxml_html.tostring(tree) == before  # the search never prunes the page it reads
    # from the URL's path when the text names no day
    assert read_metadata(page(), "https://x.example/2023/11/05/story/").published == "2023-11-05"
    # structured data, when given, is what the page states
    head = '<meta property="article:published_time" content="2022-01-02T08:00:00+01:00">'
    assert read_metadata(page(head, body), URL).published == "2022-01-02T08:00:00+01:00"


def test_a_day_written_only_in_the_text_is_found_outside_the_sites_furniture() -> None:
    # no markup names a day; the navigation shows today's, a comment and a teaser their
    # own; the article says when it appeared in words, as German pages write it
    body = (
        "<nav>Dienstag, 1. Dezember 2099</nav>"
        "<div class='teaser'><a href='/alt'>Älterer Beitrag</a> vom 3. März 2015</div>"
        "<div><span>Benni</span> <span>10. September 2017</span></div>"
        + BODY
        + "<div class='comments'>Kommentar vom 12.10.2018</div>"
    )
    assert read_metadata(page("<title>Fische</title>", body), URL).published == "2017-09-10"
    # a day that has not come yet is a clock or a typo, not the article's
    future = "<div>Stand: 01.01.2098</div>" + BODY
    assert read_metadata(page("<title>Fische</title>", future), URL).published is None


def test_the_text_day_is_read_in_a_lead_a_page_wide_form_and_under_page_classes() -> None:
    # a "teaser text" without a link is the article's own lead
    lead = "<div class='teaser-text'><p>Pressemitteilung vom 25. Januar 2022</p></div>" + BODY
    assert read_metadata(page("<title>Schulze</title>", lead), URL).published == "2022-01-25"
    # ASP.NET wraps the whole page in one <form>: it is the page, not a form
    form = f"<form action='/'><p class='date'>15 августа 2016, 13:43</p>{BODY}</form>"
    assert read_metadata(page("<title>Podolski</title>", form), URL).published == "2016-08-15"
    # the classes of <body> describe the page ("no-sidebars"), not a sidebar
    tree = lxml_html.fromstring(
        f"<html><head><title>Nuls</title></head><body class='no-sidebars'>"
        f"<p>Mise en ligne 23 mai 2019</p>{BODY}</body></html>"
    )
    assert read_metadata(tree, URL).published == "2019-05-23"


def test_the_stated_day_yields_when_the_pages_two_other_readings_agree_on_another() -> None:
    # the markup's datePublished is the day the page was changed; htmldate reads the
    # page's "date" meta tag, and the day the article shows first agrees with it
    head = '<meta name="date" content="2022-02-04 15:33">'
    stated = "<time itemprop='datePublished' datetime='2021-12-14T15:41:07+01:00'></time>"
    shown = f"{stated}<p>04.02.2022</p>{BODY}"
    assert read_metadata(page(head, shown), URL).published == "2022-02-04"
    # one reading alone does not outvote what the page states
    other = f"{stated}<p>01.02.2022</p>{BODY}"
    assert read_metadata(page(head, other), URL).published == "2021-12-14T15:41:07+01:00"


def test_a_url_with_its_year_last_names_the_day_when_nothing_else_does() -> None:
    url = "https://x.example/media-news/meldungen/29-10-2021"
    assert read_metadata(page(), url).published == "2021-10-29"
    # a day in the text comes first
    text = "<p>Pressemitteilung vom 28.10.2021</p>" + BODY
    assert read_metadata(page(body=text), url).published == "2021-10-28"


def test_a_box_named_teaser_that_holds_the_article_lends_it_its_day() -> None:
    # TYPO3 writes a single news item as a "teaser" box; its few links (a picture, a
    # mail address) are not a link to another article
    box = (
        "<div class='teaserTyp3 newsSingle'><span>01.02.2022</span>"
        "<a href='/pic.png'><img src='/pic.png'></a>" + BODY + "<a href='mailto:a@x.example'>"
        "a@x.example</a></div>"
    )
    assert read_metadata(page("<title>Pässe</title>", box), URL).published == "2022-02-01"


def test_the_text_day_search_reads_a_bounded_part_of_the_page() -> None:
    # teasers nest in teasers, each judged: only a box's first characters are read
    prose = "<p>" + "Text des Artikels. " * 400 + "</p>"  # 7,600 characters
    links = "".join(f"<a href='/n{i}'>Eine andere Meldung mit langem Titel</a>" for i in range(300))
    box = f"<div class='teaser'><span>01.02.2022</span>{prose}{links}</div>"
    assert read_metadata(page("<title>T</title>", box), URL).published == "2022-02-01"
    # the text's first 200,000 characters are searched for a day (htmldate reads on)
    late = "<p>" + "Text des Artikels. " * 11_000 + "</p><p>Veröffentlicht am 01.02.2022</p>"
    assert metadata._text_day(page("<title>T</title>", late)) is None
    early = "<p>" + "Text des Artikels. " * 10_000 + "</p><p>Veröffentlicht am 01.02.2022</p>"
    assert metadata._text_day(page("<title>T</title>", early)) == "2022-02-01"


def test_a_utc_time_is_written_as_the_publishers_clock_writes_the_same_instant() -> None:
    # the meta tag says UTC (the next day already); the site's analytics script writes
    # the same instant on the publisher's clock, whose day is the day of publication
    head = (
        '<meta property="article:published_time" content="2023-11-09T05:30:59+00:00">'
        "<script>analytics.push(['publishTime', '2023-11-08T23:30:59-06:00']);</script>"
    )
    assert read_metadata(page(head), URL).published == "2023-11-08T23:30:59-06:00"
    # another instant is another time (an update), not this one
    updated = head.replace("23:30:59-06:00", "23:45:00-06:00")
    assert read_metadata(page(updated), URL).published == "2023-11-09T05:30:59+00:00"


def test_the_author_a_twitter_card_labels_as_the_writer() -> None:
    # Yoast SEO (WordPress) writes the author as a labelled datum of the Twitter card
    head = (
        '<meta name="twitter:label1" content="Geschätzte Lesezeit">'
        '<meta name="twitter:data1" content="3 Minuten">'
        '<meta name="twitter:label2" content="Verfasst von">'
        '<meta name="twitter:data2" content="Karoline Herr">'
    )
    assert read_metadata(page(head), URL).authors == ("Karoline Herr",)
    # a datum under another label is nobody's name
    other = head.replace("Verfasst von", "Kategorie")
    assert read_metadata(page(other), URL).authors == ()


def test_a_byline_marked_by_its_test_id_and_spaced_by_style_only() -> None:
    # React sites mark their parts with data-testid; "By" and the name are two spans,
    # which a style sheet spaces apart
    body = (
        "<div data-testid='prism-byline'><span>By</span><span><a href='/team/ann'>"
        "Ann Ortega</a></span></div>" + BODY
    )
    assert read_metadata(page(body=body), URL).authors == ("Ann Ortega",)
    # a name that begins with the letters "By" stays whole
    named = "<p class='byline'>Byron Oakes</p>" + BODY
    assert read_metadata(page(body=named), URL).authors == ("Byron Oakes",)


@pytest.mark.parametrize(
    ("title", "body", "expected"),
    [
        # the logo's picture names the site
        (
            "Plejaden, M45 - Abenteuer Astronomie",
            "<a class='site-logo' href='/'><img src='/l.png' alt='Abenteuer Astronomie'></a>",
            "Plejaden, M45",
        ),
        # so does the copyright line
        (
            "Kleine Schafskunde | Mäscot das Schaf",
            "<footer><p>© 2019 Mäscot das Schaf. Alle Rechte vorbehalten.</p></footer>",
            "Kleine Schafskunde",
        ),
        # nothing names the site: the title as it is
        ("Plejaden, M45 - Abenteuer Astronomie", "", "Plejaden, M45 - Abenteuer Astronomie"),
        # a logo that says the whole title: the site's name is the title
        (
            "The Daily Courier - Latest News",
            "<a class='logo'><img src='/y.png' alt='The Daily Courier - Latest News'></a>",
            "The Daily Courier - Latest News",
        ),
        # one word left is a section of the site, no headline
        (
            "Geschichte | Klänge des Verschweigens",
            "<div class='brand'>Klänge des Verschweigens</div>",
            "Geschichte | Klänge des Verschweigens",
        ),
        (
            "Bohnenviertel - Stadt Stuttgart",
            "<div class='brand'>Stadt Stuttgart</div>",
            "Bohnenviertel - Stadt Stuttgart",
        ),
    ],
)
def test_a_title_loses_the_name_the_page_calls_itself(
    title: str, body: str, expected: str
) -> None:
    head = f'<meta property="og:title" content="{title}">'
    tree = page(head, body + BODY)
    assert read_metadata(tree, "https://x.example/a").title == expected


def test_a_title_escaped_twice_reads_as_its_words() -> None:
    head = '<meta property="og:title" content="Q&amp;amp;A: Floods &amp;#8211; what now">'
    assert read_metadata(page(head), URL).title == "Q&A: Floods – what now"


@pytest.mark.parametrize(
    ("title", "heading", "expected"),
    [
        # a site part nobody declared, dropped because a heading repeats the rest
        (f"{FLOODS} | Coast Watchers Weekly", FLOODS, FLOODS),
        (f"News - {FLOODS} - Coast Watchers", FLOODS, FLOODS),
        # a heading that is only a short part (a logo) never shortens the title
        (f"{FLOODS} · V8", "V8", f"{FLOODS} · V8"),
        ("Mozilla - Wikipedia", "Mozilla", "Mozilla - Wikipedia"),
        # no heading repeats any part: the title as it is
        (f"{FLOODS} | Coast Watchers Weekly", "Other", f"{FLOODS} | Coast Watchers Weekly"),
    ],
)
def test_a_heading_that_repeats_part_of_the_title_names_the_headline(
    title: str, heading: str, expected: str
) -> None:
    head = f'<meta property="og:title" content="{title}">'
    tree = page(head, f"<h1>{heading}</h1>" + BODY)
    assert read_metadata(tree, "https://x.example/a").title == expected


@pytest.mark.parametrize(
    ("line", "name"),
    [
        ("Posted by Konstantin @ 12:00 am", "Konstantin"),
        ("Blog Beitrag von Margarita Koreneva", "Margarita Koreneva"),
        ("von Daniela Obers", "Daniela Obers"),
        ("By Jose de la Cruz and Ana Ruiz, 3 May 2022", "Jose de la Cruz and Ana Ruiz"),
        ("от Иван Петров", "Иван Петров"),
        ("06.11.2023 13:30 von Olga", "Olga"),  # a dateline, then the name
        ("12/04/2020 by Kay 24 Comments", "Kay"),
        # a filing line, then the name (WordPress themes' "Posted on ... by ...")
        ("Posted in News by Kim Navarro on 3 May", "Kim Navarro"),
        ("Posted on September 21, 2020 by Adi Tzlil", "Adi Tzlil"),
        ("Veröffentlicht am 3. Mai 2020 von Jan Berg", "Jan Berg"),
        # a dateline whose last part is the name alone
        ("11.12.2019 - Amelie Loevenich", "Amelie Loevenich"),
        ("04.02.2022 | 13:10 Uhr | Uta Helkenberg", "Uta Helkenberg"),
    ],
)
def test_a_byline_only_the_text_marks(line: str, name: str) -> None:
    body = f"<div><p>{line}</p></div>" + BODY
    assert read_metadata(page("", body), URL).authors == (name,)


@pytest.mark.parametrize(
    "line",
    [
        "von Dienstag an geschlossen",  # German nouns are capitalised: a phrase, not a name
        "by Monday",  # one word needs a verb ("Posted by") to be a name
        "by the way, a note",
        "2023 saw prices fall by Christmas",  # a date, but "by" is not a byline's
        "12.05.2020 - Pressemitteilung",  # one word after a dateline is a label
        "12.05.2020 - Jane Doe sagt ab",  # a name, then more: a headline
    ],
)
def test_ordinary_phrases_are_not_bylines(line: str) -> None:
    body = f"<p>{line}</p>" + BODY
    assert read_metadata(page("", body), URL).authors == ()


def test_a_text_byline_inside_comments_is_not_the_authors() -> None:
    body = BODY + '<div class="comments"><p>Posted by Troll McTroll</p></div>'
    assert read_metadata(page("", body), URL).authors == ()


def test_the_sites_credits_are_not_the_articles_byline() -> None:
    for credits in (
        "<footer><p>Von Jane Doe, mit Liebe gemacht</p></footer>",
        "<nav><a href='/about'>Written by Ann Lee</a></nav>",
        "<div class='site-info'><p>By Kim Navarro</p></div>",
    ):
        assert read_metadata(page("", BODY + credits), URL).authors == (), credits
    # the byline where the article is
    body = "<p>By Jane Doe</p>" + BODY + "<footer><p>By Ann Lee</p></footer>"
    assert read_metadata(page("", body), URL).authors == ("Jane Doe",)


def test_a_pictures_credit_is_not_the_articles_byline() -> None:
    credit = (
        '<figure><img src="/w.jpg"><figcaption>"Wat Phnom" <a href="/g">von Justin Watt</a>'
        " CC BY 3.0</figcaption></figure>"
    )
    assert read_metadata(page("", BODY + credit), URL).authors == ()


def test_a_byline_is_its_line_up_to_a_line_break() -> None:
    # a dateline after the names, on the next line of the same paragraph
    line = "<p>Von <strong><a href='/rb'>Roland Berg</a></strong> und Sebastian Dorn<br>Kakuma</p>"
    tree = page("", line + BODY)
    assert read_metadata(tree, URL).authors == ("Roland Berg und Sebastian Dorn",)


def test_an_organisation_as_author_yields_to_a_person() -> None:
    org = {"@type": "NewsMediaOrganization", "name": "Coast Watchers"}
    head = ld({"@type": "NewsArticle", "headline": "H", "author": [org]})
    body = '<span class="byline">By Kim Navarro</span>' + BODY
    assert read_metadata(page(head, body), URL).authors == ("Kim Navarro",)
    assert read_metadata(page(head), URL).authors == ("Coast Watchers",)  # nobody else
    both = {"@type": ["Person", "Organization"], "name": "Ana Ruiz"}  # a one-person site
    head = ld({"@type": "NewsArticle", "headline": "H", "author": both})
    assert read_metadata(page(head, body), URL).authors == ("Ana Ruiz",)


@pytest.mark.parametrize("label", ["Publiziert am", "No Author", "Stand:", "Publié le"])
def test_a_label_alone_names_nobody(label: str) -> None:
    body = f'<div class="byline">{label}</div>' + BODY
    assert read_metadata(page("", body), URL).authors == ()
