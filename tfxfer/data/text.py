"""Streaming text corpora: files, `.gz` files, directories and NLTK corpora.

A `TextCorpus` is restartable: each iteration reads its sources again from the
start, so memory stays bounded whatever the corpus size.
"""

from __future__ import annotations

import gzip
import logging
from pathlib import Path
from typing import Iterable, Iterator

from tfxfer.errors import DataError

logger = logging.getLogger(__name__)

NLTK_PREFIX = "nltk:"
TEXT_SUFFIXES = (".txt", ".text", ".gz", "")


def _nltk_reader(name: str):
    import nltk

    reader = getattr(nltk.corpus, name, None)
    # A LazyCorpusLoader turns itself into its CorpusReader once loaded.
    if not isinstance(reader, (nltk.corpus.util.LazyCorpusLoader, nltk.corpus.reader.CorpusReader)):
        raise DataError(
            f"Unknown NLTK corpus {name!r}. Use a corpus name from nltk.corpus, "
            "e.g. nltk:brown or nltk:sentence_polarity."
        )
    try:
        if isinstance(reader, nltk.corpus.util.LazyCorpusLoader):
            reader.ensure_loaded()
    except LookupError:
        raise DataError(
            f"NLTK corpus {name!r} was not found on NLTK's data path "
            f"({', '.join(map(str, nltk.data.path[:3]))}). tfxfer never downloads at run "
            f"time: install it with `python -m nltk.downloader {name}` or point "
            f"NLTK_DATA at a directory that holds corpora/{name}.zip."
        ) from None
    return reader


def iter_nltk_lines(name: str, fileids: Iterable[str] | None = None) -> Iterator[str]:
    """Yield the sentences (or lines) of an NLTK corpus as strings.

    Tagged and sentence-split corpora (brown, sentence_polarity) yield their
    sentences joined by spaces; plain-text corpora yield their raw lines, so no
    sentence tokenizer model (punkt) is needed.
    """
    reader = _nltk_reader(name)
    for fileid in fileids if fileids is not None else reader.fileids():
        if hasattr(reader, "tagged_sents") or type(reader).__name__.startswith(
            "CategorizedSentences"
        ):
            for sent in reader.sents(fileid):
                yield " ".join(sent)
        else:
            yield from reader.raw(fileid).splitlines()


def _files_under(path: Path) -> list[Path]:
    files = sorted(
        p
        for p in path.rglob("*")
        if p.is_file() and not p.name.startswith(".") and p.suffix in TEXT_SUFFIXES
    )
    if not files:
        raise DataError(
            f"Directory {str(path)!r} holds no text files (.txt, .gz or no suffix). "
            "Pass text files, a directory of them, or an NLTK corpus like nltk:brown."
        )
    return files


class TextCorpus:
    """A restartable stream of text lines from several sources.

    Args:
        sources: Paths of UTF-8 text files (one sentence or paragraph per line,
            optionally gzipped), directories of them (read recursively, sorted),
            or NLTK corpus names like `"nltk:brown"`.

    Attributes:
        invalid_lines: Lines of the last complete pass that were not valid UTF-8;
            they are decoded with U+FFFD replacement characters and kept.
    """

    def __init__(self, sources: Iterable[str | Path]):
        self.sources = [str(s) for s in sources]
        if not self.sources:
            raise DataError("No corpus given. Pass one or more text files, directories or nltk:NAME corpora.")
        self._paths: list[Path | str] = []
        for source in self.sources:
            if source.startswith(NLTK_PREFIX):
                _nltk_reader(source[len(NLTK_PREFIX):])
                self._paths.append(source)
                continue
            path = Path(source)
            if path.is_dir():
                self._paths.extend(_files_under(path))
            elif path.is_file():
                self._paths.append(path)
            else:
                raise DataError(
                    f"Corpus {source!r} does not exist. Pass a text file, a directory "
                    "of text files, or an NLTK corpus like nltk:brown."
                )
        self.invalid_lines = 0
        self.invalid_examples: list[str] = []

    def _iter_file(self, path: Path, counter: list[int]) -> Iterator[str]:
        opener = gzip.open if path.suffix == ".gz" else open
        try:
            with opener(path, "rb") as f:
                for lineno, raw in enumerate(f, 1):
                    try:
                        line = raw.decode("utf-8")
                    except UnicodeDecodeError:
                        line = raw.decode("utf-8", errors="replace")
                        counter[0] += 1
                        if len(self.invalid_examples) < 5:
                            self.invalid_examples.append(f"{path}:{lineno}")
                    yield line
        except (OSError, EOFError) as e:
            raise DataError(f"Cannot read corpus file {str(path)!r}: {e}.") from None

    def __iter__(self) -> Iterator[str]:
        counter = [0]
        self.invalid_examples = []
        for path in self._paths:
            if isinstance(path, str):
                lines = iter_nltk_lines(path[len(NLTK_PREFIX):])
            else:
                lines = self._iter_file(path, counter)
            for line in lines:
                line = line.strip()
                if line:
                    yield line
        self.invalid_lines = counter[0]
        if counter[0]:
            logger.warning(
                "%d line(s) were not valid UTF-8 and were read with replacement "
                "characters (first: %s).", counter[0], ", ".join(self.invalid_examples)
            )

    def __repr__(self) -> str:
        return f"TextCorpus({self.sources!r})"
