"""Wikipedia (MediaWiki) dumps as a corpus: the text of their articles, without the markup.

`enwiki-latest-pages-articles.xml.bz2` is the corpus of word2vec's tutorials,
and a wiki of one's own field (a company wiki, Wikibooks) exports the same XML.
Read as lines, its markup (`[[links|...]]`, `{{templates}}`, `<ref>`s, tables)
would be a good part of the words learned. gensim's `extract_pages` streams the
pages and `filter_wiki` removes the markup, as gensim's `WikiCorpus` does;
its tokenizer is not used, so tfxfer's own reads the text, as it reads the
texts the module will be given.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from xml.etree.ElementTree import ParseError

from tfxfer.data.compressed import READ_ERRORS
from tfxfer.errors import DataError

# The root element of a MediaWiki export, looked for near the start of a file.
WIKI_ROOT = b"<mediawiki"
# Bytes (decompressed) looked at for it: the root follows an XML declaration, if any.
WIKI_SNIFF_BYTES = 1024
# The namespace of articles: talk pages, user pages, templates and files are left out.
ARTICLES = ("0",)
# What filter_wiki leaves of wikitext's formatting: bold and italic quotes, heading marks, list
# marks at the start of a line, table cell separators.
_LEFT_MARKUP = re.compile(r"'{2,}|^[=*#:;|!\s]+|[=\s]+$|\|\|")


def is_wiki_dump(head: bytes) -> bool:
    """Whether a file's first bytes (decompressed) are those of a MediaWiki XML export."""
    return WIKI_ROOT in head[:WIKI_SNIFF_BYTES]


def wiki_lines(opened: Callable[[], AbstractContextManager], name: str) -> Iterator[str]:
    """The paragraphs (lines) of a MediaWiki dump's articles, streamed, their markup removed;
    redirects and pages outside the article namespace left out.

    Args:
        opened: Returns the dump opened for reading bytes (decompressed), as a context manager.
        name: The dump's name, for errors.

    Raises:
        DataError: The dump is not well-formed XML, or ends early (a download cut short).
    """
    from gensim.corpora.wikicorpus import extract_pages, filter_wiki

    try:
        with opened() as f:
            for _, text, _ in extract_pages(f, filter_namespaces=ARTICLES):
                if not text or text[:9].lower() == "#redirect":
                    continue
                for line in filter_wiki(text).splitlines():
                    line = _LEFT_MARKUP.sub("", line)
                    if line:
                        yield line
    except (ParseError, *READ_ERRORS) as e:
        raise DataError(f"Cannot read the wiki dump {name!r}: {e}. It may be cut short: download it again "
                        "(and check it against the dump's published checksums).") from None
