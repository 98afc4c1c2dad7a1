"""Click tracking of email links: the links of a rendered body replaced by tracking URLs,
and the list of the originals, which is all a click redirect may go to (SPEC: a click
to a link that is not in that message is a 404).

In HTML only `href` attributes are links (an image's `src` is not clicked, and a URL
inside a tag's text would be rewritten inside markup); in plain text every bare
http(s) URL is."""

import html as html_lib
import re
from collections.abc import Callable

# The tracking URL of the link at `index` of the returned list, or None to leave it.
Tracker = Callable[[str, int], str | None]

_HREF = re.compile(r"""(?P<lead>\bhref\s*=\s*)(?P<quote>["'])(?P<url>.*?)(?P=quote)""", re.I)
_BARE_URL = re.compile(r"""https?://[^\s<>"'`]+""", re.I)
_TRAILING = ".,;:!?'\""
_LINK = re.compile(r"https?://\S", re.I)


def _trimmed(url: str) -> str:
    """A bare URL without the punctuation that ends its sentence, nor a closing
    parenthesis it does not open (`(see https://x.org/a)`)."""
    while url:
        if url[-1] in _TRAILING or (url[-1] == ")" and url.count(")") > url.count("(")):
            url = url[:-1]
        else:
            break
    return url


def rewrite_links(body: str, *, html: bool, tracker: Tracker) -> tuple[str, list[str]]:
    """(`body` with each http(s) link replaced by `tracker(link, index)`, the distinct
    links in order of first appearance). `index` is the link's place in that list, so
    one link named twice gets one index. A tracker answering None leaves the link as it
    is (an unsubscribe link, say); it is still listed."""
    links: list[str] = []
    indexes: dict[str, int] = {}

    def tracked(url: str) -> str | None:
        if not _LINK.match(url):
            return None
        if url not in indexes:
            indexes[url] = len(links)
            links.append(url)
        return tracker(url, indexes[url])

    if html:

        def replace_href(match: re.Match[str]) -> str:
            url = html_lib.unescape(match.group("url")).strip()
            replacement = tracked(url)
            if replacement is None:
                return match.group(0)
            quote = match.group("quote")
            return f"{match.group('lead')}{quote}{html_lib.escape(replacement)}{quote}"

        return _HREF.sub(replace_href, body), links

    def replace_bare(match: re.Match[str]) -> str:
        url = _trimmed(match.group(0))
        replacement = tracked(url)
        if replacement is None:
            return match.group(0)
        return replacement + match.group(0)[len(url) :]

    return _BARE_URL.sub(replace_bare, body), links
