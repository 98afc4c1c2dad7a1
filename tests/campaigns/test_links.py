"""Click tracking: links of a rendered email replaced by tracking URLs, and the list of
the originals (the only places a click redirect may go)."""

from campaigns.links import rewrite_links


def tracker(url, index):
    return f"https://t.example/c/{index}"


def test_html_hrefs_are_rewritten_and_listed_once_each():
    body = (
        '<a href="https://shop.example/a?x=1&amp;y=2">A</a> '
        "<a href='http://shop.example/b'>B</a> "
        '<a HREF="https://shop.example/a?x=1&amp;y=2">A again</a>'
    )

    rewritten, links = rewrite_links(body, html=True, tracker=tracker)

    assert links == ["https://shop.example/a?x=1&y=2", "http://shop.example/b"]
    assert rewritten == (
        '<a href="https://t.example/c/0">A</a> '
        "<a href='https://t.example/c/1'>B</a> "
        '<a HREF="https://t.example/c/0">A again</a>'
    )


def test_html_images_mailto_and_anchors_are_left_alone():
    body = (
        '<img src="https://cdn.example/logo.png"> <a href="mailto:x@example.com">m</a> '
        '<a href="#top">top</a> https://bare.example/in-text'
    )

    rewritten, links = rewrite_links(body, html=True, tracker=tracker)

    assert rewritten == body
    assert links == []


def test_plain_text_urls_are_rewritten_without_their_sentence_punctuation():
    body = "See https://shop.example/sale. Or (https://shop.example/faq), https://x.example/a_(b)!"

    rewritten, links = rewrite_links(body, html=False, tracker=tracker)

    assert links == [
        "https://shop.example/sale",
        "https://shop.example/faq",
        "https://x.example/a_(b)",
    ]
    assert rewritten == (
        "See https://t.example/c/0. Or (https://t.example/c/1), https://t.example/c/2!"
    )


def test_a_tracker_answering_none_leaves_the_link_but_lists_it():
    body = "Buy: https://shop.example/buy\nUnsubscribe: https://crm.example/u/token"

    rewritten, links = rewrite_links(
        body,
        html=False,
        tracker=lambda url, index: None if "/u/" in url else tracker(url, index),
    )

    assert rewritten == "Buy: https://t.example/c/0\nUnsubscribe: https://crm.example/u/token"
    assert links == ["https://shop.example/buy", "https://crm.example/u/token"]


def test_tracking_urls_are_escaped_in_html():
    rewritten, _ = rewrite_links(
        '<a href="https://shop.example/">x</a>',
        html=True,
        tracker=lambda url, index: "https://t.example/c?a=1&b=2",
    )

    assert rewritten == '<a href="https://t.example/c?a=1&amp;b=2">x</a>'
