"""Web pages as a corpus: the text a browser shows, without the markup.

Pages saved from a site (`wget -r`, a crawler, a help centre's export) are a
common corpus for word vectors of one's own field. Read as lines, their tags,
attributes, scripts and styles would be many of the words learned (`p`, `<`,
`div` the most frequent). The standard library's `html.parser` reads them;
the text of each block element (paragraph, heading, list item, cell) becomes a
line, as the page shows it, and scripts, styles and other content no reader
sees are left out.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from html.parser import HTMLParser

HTML_SUFFIXES = (".html", ".htm", ".xhtml")
# Elements whose content is not text a reader sees.
HIDDEN = frozenset({"script", "style", "noscript", "template", "svg", "math"})
# Elements that start a new line where a browser shows them (their text is not run into the next).
BLOCKS = frozenset({
    "p", "div", "br", "hr", "li", "dt", "dd", "tr", "td", "th", "caption", "pre", "blockquote", "title",
    "h1", "h2", "h3", "h4", "h5", "h6", "section", "article", "header", "footer", "nav", "aside", "main",
    "figure", "figcaption", "form", "table", "ul", "ol", "dl", "address", "details", "summary", "option",
})


class _PageText(HTMLParser):
    """Collects the visible text of a page, a line per block element."""

    def __init__(self):
        super().__init__(convert_charrefs=True)  # &amp; and &#233; read as the characters they stand for
        self.lines: list[str] = []
        self._parts: list[str] = []
        self._hidden = 0

    def _break(self) -> None:
        line = " ".join("".join(self._parts).split())
        if line:
            self.lines.append(line)
        self._parts = []

    def handle_starttag(self, tag, attrs):
        if tag in HIDDEN:
            self._hidden += 1
        if tag in BLOCKS:
            self._break()

    def handle_startendtag(self, tag, attrs):
        if tag in BLOCKS:  # <br/>
            self._break()

    def handle_endtag(self, tag):
        if tag in HIDDEN:
            self._hidden = max(self._hidden - 1, 0)
        if tag in BLOCKS:
            self._break()

    def handle_data(self, data):
        if not self._hidden:
            self._parts.append(data)

    def close(self):
        super().close()
        self._break()


def html_lines(pieces: Iterable[str]) -> Iterator[str]:
    """The lines of text a web page shows, streamed: one per paragraph, heading, list item or cell.

    Args:
        pieces: The page's source, line by line (as `TextCorpus` reads any text file: its encoding
            found, a legacy code page too, long lines in pieces).

    Yields:
        Each non-empty line, its whitespace collapsed.
    """
    parser = _PageText()
    for piece in pieces:
        parser.feed(piece if piece.endswith("\n") else piece + "\n")  # a line break is a space in HTML
        yield from parser.lines
        parser.lines.clear()
    parser.close()
    yield from parser.lines
