"""HTML to readable plain text, with hidden content dropped.

Used for HTML-only mail and HTML documents. Hidden text is removed before anything is indexed:
``<script>``/``<style>``/``<head>``, comments, the ``hidden`` attribute, ``aria-hidden``, and
inline styles that hide text (display:none, visibility:hidden, zero font size, zero opacity or
size, white-on-white). Hidden text is a classic way to smuggle instructions to an assistant, and
a person never saw it, so it is not part of what they know.
"""

from __future__ import annotations

import logging
import re
import warnings

from bs4 import BeautifulSoup, Comment, Tag, XMLParsedAsHTMLWarning

logger = logging.getLogger(__name__)

_DROP_TAGS = ("script", "style", "head", "template", "noscript", "iframe", "object", "svg", "title")
_BLOCK_TAGS = {
    "p",
    "div",
    "br",
    "li",
    "tr",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "table",
    "ul",
    "ol",
    "blockquote",
    "pre",
    "section",
    "article",
    "header",
    "footer",
    "hr",
    "dd",
    "dt",
    "address",
}
_HIDDEN_STYLE = re.compile(
    r"display\s*:\s*none|visibility\s*:\s*hidden|font-size\s*:\s*0(?![.\d]*[1-9])|"
    r"opacity\s*:\s*0(?![.\d]*[1-9])|max-height\s*:\s*0(?![.\d]*[1-9])|"
    r"(?<![-\w])height\s*:\s*0(?:px)?\s*(?:;|$)[^\"]*overflow\s*:\s*hidden|"
    r"(?<![-\w])width\s*:\s*0(?:px)?\s*(?:;|$)[^\"]*overflow\s*:\s*hidden",
    re.I,
)
_WHITE = r"(?:#fff(?:fff)?\b|white\b|rgba?\(\s*255\s*,\s*255\s*,\s*255)"
_WHITE_TEXT = re.compile(rf"(?<![-\w])color\s*:\s*{_WHITE}", re.I)
_BACKGROUND = re.compile(r"background(?:-color)?\s*:\s*([^;]+)", re.I)


def _is_hidden(tag: Tag) -> bool:
    if tag.has_attr("hidden"):
        return True
    if str(tag.get("aria-hidden", "")).lower() == "true":
        return True
    style = str(tag.get("style", ""))
    if not style:
        return False
    if _HIDDEN_STYLE.search(style):
        return True
    if _WHITE_TEXT.search(style):
        # white text shows only on a non-white background set by the element itself
        bg = _BACKGROUND.search(style)
        return bg is None or re.match(_WHITE, bg.group(1).strip(), re.I) is not None
    return False


def _visible_soup(html: str) -> BeautifulSoup:
    with warnings.catch_warnings():
        # an XHTML mail part ("<?xml ...?><html ...>") is still a mail's HTML: parsed as HTML,
        # without bs4's multi-line warning on the person's terminal
        warnings.simplefilter("ignore", XMLParsedAsHTMLWarning)
        soup = BeautifulSoup(html, "lxml")
    for c in soup.find_all(string=lambda s: isinstance(s, Comment)):
        c.extract()
    for name in _DROP_TAGS:
        for t in soup.find_all(name):
            t.decompose()
    for t in soup.find_all(True):
        if t.decomposed:
            continue
        if _is_hidden(t):
            t.decompose()
    return soup


def clean_html(html: str) -> str:
    """The same HTML with scripts, comments and hidden elements removed."""
    return str(_visible_soup(html))


def html_to_text(html: str) -> str:
    """Visible text of an HTML document, one block per line, blank lines between blocks."""
    soup = _visible_soup(html)
    for t in soup.find_all(True):
        if t.name in _BLOCK_TAGS:
            t.insert_before("\n")
            t.insert_after("\n")
        elif t.name in ("td", "th"):
            t.insert_after(" \t")
    text = soup.get_text()
    lines = [re.sub(r"[ \t\u00a0]+", " ", ln).strip() for ln in text.splitlines()]
    out: list[str] = []
    for ln in lines:
        if ln or (out and out[-1]):
            out.append(ln)
    return "\n".join(out).strip()
