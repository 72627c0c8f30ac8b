"""Streaming text corpora: files (plain, `.gz`, `.bz2`, `.xz`), directories, NLTK corpora, and
Wikipedia dumps (their articles' text).

A `TextCorpus` is restartable: each iteration reads its sources again from the
start, so memory stays bounded whatever the corpus size.
"""

from __future__ import annotations

import codecs
import collections
import csv
import functools
import io
import json
import logging
import sys
from pathlib import Path
from typing import Iterable, Iterator

from tfxfer.data.columnar import PARQUET_SUFFIXES, iter_parquet_texts
from tfxfer.data.compressed import OPENERS, READ_ERRORS, damaged_note, format_suffix, open_bytes
from tfxfer.data.delimited import (
    LEGACY_ENCODINGS,
    LEGACY_SAMPLE_BYTES,
    SNIFF_CHARS,
    UTF16_BOMS,
    legacy_encoding,
    sniff_delimiter,
)
from tfxfer.data.html_text import HTML_SUFFIXES, html_lines
from tfxfer.data.names import TEXT_COLUMNS, files_under, find_column, left_out
from tfxfer.data.patterns import NLTK_PREFIX, expand_all, path_exists
from tfxfer.data.records import field_text, is_table, read_values, text_key
from tfxfer.data.wiki import WIKI_SNIFF_BYTES, is_wiki_dump, wiki_lines
from tfxfer.data.workbook import WORKBOOK_SUFFIXES
from tfxfer.errors import DataError, counted, not_found

logger = logging.getLogger(__name__)

# Compressed text is read as it streams (`OPENERS`), as gensim reads it.
TEXT_SUFFIXES = (".txt", ".text", ".md", ".markdown", ".rst", *OPENERS, "")
# Archives hold files, not a text: named in the error, with the fix.
ARCHIVE_SUFFIXES = (".zip", ".tar", ".tgz", ".7z", ".rar")
# Lines longer than this are cut at a space into pieces (about 10,000 words,
# where gensim cuts too): training must not depend on how text is broken into lines.
MAX_LINE_BYTES = 1 << 16
# Bytes looked at to tell text from binary data.
SNIFF_BYTES = 8192

# Tables in binary files: their text column is the corpus.
BINARY_TABLES = (*WORKBOOK_SUFFIXES, *PARQUET_SUFFIXES)
# Documents whose text a tool must take out first: what they are, and the command that does it.
DOCUMENTS = {
    ".pdf": ("a PDF", "pdftotext {path} {stem}.txt"),
    ".docx": ("a Word document", "pandoc {path} -t plain -o {stem}.txt"),
    ".doc": ("a Word 97-2003 document", "save it as Plain Text (.txt) in Word, or antiword {path} > {stem}.txt"),
    ".odt": ("an OpenDocument text", "pandoc {path} -t plain -o {stem}.txt"),
    ".rtf": ("a Rich Text document", "pandoc {path} -t plain -o {stem}.txt"),
    ".epub": ("an e-book", "pandoc {path} -t plain -o {stem}.txt"),
}


def check_not_archive(source, what: str) -> None:
    """Raise `DataError` for an archive of files (`.zip`, `.tar.gz`...) passed as data: the fix is to
    extract it. (Its bytes would read as a binary file, or its first member's name as text.)"""
    path = Path(str(source))
    name = path.name.lower()
    archive = name.endswith((".tar.gz", ".tar.bz2", ".tar.xz")) or path.suffix.lower() in ARCHIVE_SUFFIXES
    if archive and path_exists(path) and path.is_file():  # path_exists: a text too long to be a name is none
        raise DataError(f"{what} {str(source)!r} is an archive of files. Extract it (unzip, tar -xf) and pass the "
                        "folder it holds (it is read recursively).")


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


# Readers whose `sents()` parse their files' markup without a sentence tokenizer model (punkt):
# sentence_polarity's, pros_cons's (`<Pros>...</Pros>`), product reviews' (`picture[+2]##...`).
_SENTENCE_READERS = ("CategorizedSentences", "ProsCons", "Reviews")


def iter_nltk_lines(name: str, fileids: Iterable[str] | None = None) -> Iterator[str]:
    """Yield the sentences (or lines) of an NLTK corpus as strings.

    Tagged and sentence-split corpora (brown, sentence_polarity, pros_cons,
    product reviews) yield their sentences joined by spaces, nps_chat its
    posts' text; plain-text corpora yield their raw lines, so no sentence
    tokenizer model (punkt) is needed. The raw lines of the others were their
    markup: nps_chat's XML, pros_cons's `<Cons>` tags (a label in every line).
    """
    reader = _nltk_reader(name)
    for fileid in fileids if fileids is not None else reader.fileids():
        if hasattr(reader, "xml_posts"):
            yield from (post.text for post in reader.xml_posts(fileid) if post.text and post.text.strip())
        elif hasattr(reader, "tagged_sents") or type(reader).__name__.startswith(_SENTENCE_READERS):
            for sent in reader.sents(fileid):
                yield " ".join(sent)
        else:
            yield from reader.raw(fileid).splitlines()


def open_text_bytes(path: Path):
    """`path` opened for reading bytes, decompressed as its suffix says, and UTF-16 text
    (starting with its byte-order mark) recoded to UTF-8 as it is read; a UTF-8 byte-order
    mark (Notepad's "UTF-8 with BOM") is skipped, not read as part of the first line."""
    f = open_bytes(path)
    try:
        if f.peek(2)[:2] in UTF16_BOMS:
            return codecs.EncodedFile(f, data_encoding="utf-8", file_encoding="utf-16")
        if f.peek(3)[:3] == codecs.BOM_UTF8:
            f.read(3)
    except BaseException:
        f.close()
        raise
    return f


def _legacy_encoding(path: Path, first: bytes) -> str:
    """The code page of a file that is not UTF-8, found from its lines that are not ASCII in its first
    `LEGACY_SAMPLE_BYTES` (they start with `first`, its first such line), or from `first` alone."""
    with open_text_bytes(path) as f:
        head = f.read(LEGACY_SAMPLE_BYTES)
    lines = [line for line in head.split(b"\n")[:-1] if not line.isascii()] or [first]
    return legacy_encoding(b"\n".join(lines))


def _wiki_dump(path: Path) -> bool:
    """Whether `path` is a MediaWiki XML export (a Wikipedia dump); `False` where it cannot be read
    (reading its lines says why)."""
    try:
        with open_text_bytes(path) as f:
            return is_wiki_dump(f.read(WIKI_SNIFF_BYTES))
    except READ_ERRORS:
        return False


def text_encoding(path: Path) -> str:
    """The encoding to read a text file as: UTF-16 when it starts with that byte-order mark, else
    UTF-8 (without a BOM it may start with). UTF-8 for a damaged compressed file: reading it says why."""
    try:
        with open_bytes(path) as f:
            return "utf-16" if f.read(2) in UTF16_BOMS else "utf-8-sig"
    except READ_ERRORS:
        return "utf-8-sig"


def open_text(path: Path, newline: str | None = None) -> io.TextIOWrapper:
    """`path` opened for reading text (decompressed; UTF-16 by its byte-order mark, else UTF-8 with
    replacement characters)."""
    return io.TextIOWrapper(open_bytes(path), encoding=text_encoding(path), errors="replace", newline=newline)


def looks_binary(path: Path) -> bool:
    """Whether a file's start holds NUL bytes, or is mostly not UTF-8 and not text in a multibyte
    code page either (Shift-JIS, GBK: nearly every byte of such text is invalid UTF-8): not text.

    Raises:
        DataError: The file cannot be read (a truncated or damaged `.gz`, `.bz2`, `.xz`).
    """
    try:
        with open_text_bytes(path) as f:
            head = f.read(SNIFF_BYTES)
    except READ_ERRORS as e:
        raise DataError(f"Cannot read {str(path)!r}: {e}.{damaged_note(path)}") from None
    if b"\0" in head:
        return True
    text = head.decode("utf-8", errors="replace")
    if text.count("\ufffd") <= 0.3 * max(len(text), 1):
        return False
    whole = head[:head.rfind(b"\n") + 1] or head  # no character cut at the end
    encoding = legacy_encoding(whole)
    try:
        return encoding == "cp1252" or not whole.decode(encoding)
    except UnicodeDecodeError:
        return True


def _files_under(path: Path) -> tuple[list[Path], list[Path]]:
    """Text files under `path` (hidden folders and files left out), and binary files skipped. Files
    of other suffixes are left out with a warning that counts them by suffix."""
    found = sorted(p for p in files_under(path) if p.is_file() and not left_out(p, path))
    read = (*TEXT_SUFFIXES, *HTML_SUFFIXES)
    candidates = [p for p in found if format_suffix(p) in read]  # tables left out, compressed or not
    others = collections.Counter(format_suffix(p) for p in found if format_suffix(p) not in read)
    if others:
        listed = ", ".join(f"{n:,} {suffix}" for suffix, n in others.most_common(5))
        logger.warning("Left out %s in %s by their suffix (%s%s): only text files (.txt, .md, .rst, .html, .gz... "
                       "or none) are read from a folder. Convert documents to text first (pdftotext, pandoc); "
                       "pass a table by its name to read its text column.", counted(sum(others.values()), "file"),
                       path, listed, ", ..." if len(others) > 5 else "")
    is_binary = [looks_binary(p) for p in candidates]
    files = [p for p, b in zip(candidates, is_binary) if not b]
    binary = [p for p, b in zip(candidates, is_binary) if b]
    if not files:
        raise DataError(
            f"Directory {str(path)!r} holds no text files (.txt, .md, .rst, .html, .gz, .bz2, .xz or no suffix"
            + (f"; {counted(len(binary), 'binary file')} skipped" if binary else "") + "). "
            "Pass text files, a directory of them, or an NLTK corpus like nltk:brown."
        )
    return files, binary


def json_lines(path: Path) -> bool:
    """Whether a table is JSON Lines, to stream: a `.jsonl`, or a `.json` whose first line is an
    object (Amazon's reviews and `Dataset.to_json` write JSON Lines under `.json`), not an array
    to read whole, nor one object alone (pandas' `to_json` writes a table as one)."""
    if format_suffix(path) != ".json":
        return format_suffix(path) == ".jsonl"
    try:
        with open_text(path) as f:
            head = f.read(SNIFF_CHARS).lstrip()
            if not head.startswith("{"):
                return False
            first, newline, rest = head.partition("\n")
            if not newline:
                first += f.readline()
            second = rest.strip() or f.readline().strip()
        return isinstance(json.loads(first), dict) and bool(second)
    except (ValueError, *READ_ERRORS):  # a pretty-printed object; a damaged file (reading it says so)
        return False


def _jsonl_records(path: Path, column: str | None) -> Iterator[tuple[str, dict]]:
    """Each JSON Lines record (an object), streamed, with the key of its text: `column`, else the key
    named as texts are (text, review...), or the only key."""
    key = None
    with open_text(path) as f:
        for line in f:
            try:
                record = json.loads(line) if line.strip() else None
            except json.JSONDecodeError:
                continue
            if not isinstance(record, dict):
                continue
            if key is None:
                key = text_key(list(record), str(path), column,
                               fix="Name it with --input-column." if column else "Call it text (or review, sentence...).")
            yield key, record


def jsonl_texts(path: Path, column: str | None = None) -> Iterator[str]:
    """The text of each JSON Lines record, streamed (`_jsonl_records`)."""
    for key, record in _jsonl_records(path, column):
        if isinstance(record.get(key), str):
            yield record[key]


def jsonl_rows(path: Path, column: str | None = None) -> Iterator[tuple[str, dict[str, str]]]:
    """Each JSON Lines record, streamed: its text, stripped (`""` where it has none), and its other
    keys' values as text (a nested one as JSON)."""
    for key, record in _jsonl_records(path, column):
        value = record.get(key)
        yield value.strip() if isinstance(value, str) else "", {k: field_text(v) for k, v in record.items() if k != key}


def split_long(raw: bytes, limit: int = MAX_LINE_BYTES) -> Iterator[bytes]:
    """`raw` in pieces of at most about `limit` bytes, cut at spaces."""
    while len(raw) > limit:
        cut = raw.rfind(b" ", 0, limit)
        if cut <= 0:
            cut = limit
            while cut < len(raw) and (raw[cut] & 0xC0) == 0x80:  # not inside a UTF-8 character
                cut += 1
        yield raw[:cut]
        raw = raw[cut:].lstrip(b" ")
    yield raw


def read_lines(f, limit: int = MAX_LINE_BYTES) -> Iterator[tuple[int, bytes]]:
    """`(line number, bytes)` of a binary file's lines; long lines in pieces cut at spaces.

    A line is never held whole: it is read `limit` bytes at a time, and what
    follows the last space of a piece waits for the next one.
    """
    carry, lineno = b"", 1
    for chunk in iter(lambda: f.readline(limit), b""):
        pieces = list(split_long(carry + chunk, limit))
        if chunk.endswith(b"\n"):
            for piece in pieces:
                yield lineno, piece
            carry, lineno = b"", lineno + 1
        else:
            for piece in pieces[:-1]:
                yield lineno, piece
            carry = pieces[-1]
    if carry:
        yield lineno, carry


class TextCorpus:
    """A restartable stream of text lines from several sources.

    Args:
        sources: Paths of UTF-8 text files (one sentence or paragraph per line,
            optionally compressed: .gz, .bz2, .xz), directories of them (read recursively, sorted),
            or NLTK corpus names like `"nltk:brown"`.

    Lines longer than `MAX_LINE_BYTES` are cut at spaces into pieces.
    Directories are searched recursively; hidden folders (`.git`) are left
    out and binary files skipped (listed in `skipped_files`). A file named
    directly that is not text is refused.

    Attributes:
        invalid_lines: Lines of the last complete pass that were not valid UTF-8;
            they are decoded with U+FFFD replacement characters and kept.
        legacy_files: Files read in a legacy code page, their first line that is not ASCII not being
            UTF-8: `{path: codec}` (`"cp1252"`, `"cp932"`..., as `delimited.legacy_encoding` finds).
        skipped_files: Binary files found in directories and skipped.
    """

    def __init__(self, sources: Iterable[str | Path]):
        self.sources = [str(s) for s in sources]
        if not self.sources:
            raise DataError("No corpus given. Pass one or more text files, directories or nltk:NAME corpora.")
        self._paths: list[Path | str] = []
        self.skipped_files: list[str] = []
        for source in expand_all(self.sources, "Corpus"):
            if source.startswith(NLTK_PREFIX):
                _nltk_reader(source[len(NLTK_PREFIX):])
                self._paths.append(source)
                continue
            path = Path(source)
            if path.is_dir():
                files, binary = _files_under(path)
                self._paths.extend(files)
                self.skipped_files.extend(str(p) for p in binary)
                if binary:
                    logger.warning("Skipped %s in %s (first: %s).", counted(len(binary), "binary file"), path,
                                   binary[0])
            elif path.is_file():
                check_not_archive(source, "Corpus file")
                if path.suffix.lower() in DOCUMENTS:
                    kind, fix = DOCUMENTS[path.suffix.lower()]
                    raise DataError(f"Corpus file {source!r} is {kind}, not text: take its text out first "
                                    f"({fix.format(path=path, stem=path.stem)}) and pass the .txt.")
                if path.suffix.lower() not in BINARY_TABLES and looks_binary(path):
                    raise DataError(
                        f"Corpus file {source!r} is not text (binary data: NUL bytes or mostly invalid UTF-8). "
                        "Pass UTF-8 text files."
                    )
                self._paths.append(path)
            elif len(source.split()) >= 3 and not path.suffix:  # a sentence: texts given where files go
                of = f" (1 of {len(self.sources):,} sources)" if len(self.sources) > 1 else ""
                raise DataError(f"Corpus {source!r}{of} is a text, not a file: the corpus is read from files, "
                                "streamed however large. Write the texts to one, a text per line "
                                "(Path('corpus.txt').write_text('\\n'.join(texts))), and pass its path.")
            else:
                raise not_found("Corpus", source, "Pass a text file, a directory of text files, or an NLTK corpus "
                                                  "like nltk:brown.")
        self.invalid_lines = 0
        self.legacy_files: dict[Path, str] = {}
        self.lines_read = 0
        self.invalid_examples: list[str] = []

    def _iter_file(self, path: Path, counter: list[int]) -> Iterator[str]:
        """A file's lines, UTF-8; but a file whose first line that is not ASCII is not UTF-8 either
        was saved in a legacy code page (Notepad's "ANSI", older Project Gutenberg texts), and its
        lines that are not UTF-8 are read in it, so that `café` is the `café` the module will be
        sent, not `caf` and a replacement character."""
        legacy = None
        try:
            with open_text_bytes(path) as f:
                for lineno, raw in read_lines(f):
                    try:
                        line = raw.decode("utf-8")
                        legacy = False if legacy is None and not raw.isascii() else legacy
                    except UnicodeDecodeError:
                        if legacy is None:
                            legacy = True
                            if path not in self.legacy_files:
                                self.legacy_files[path] = _legacy_encoding(path, raw)
                                logger.warning("%s is not UTF-8: read as %s. If its letters look wrong (similar, the "
                                               "vocabulary), convert it to UTF-8 from its encoding (iconv -f CP1250 "
                                               "-t UTF-8 ...).", path, LEGACY_ENCODINGS[self.legacy_files[path]])
                        if legacy:
                            yield raw.decode(self.legacy_files[path], errors="replace")
                            continue
                        line = raw.decode("utf-8", errors="replace")
                        counter[0] += 1
                        if len(self.invalid_examples) < 5:
                            self.invalid_examples.append(f"{path}:{lineno}")
                    yield line
        except READ_ERRORS as e:
            raise DataError(f"Cannot read corpus file {str(path)!r}: {e}.") from None

    def _iter_table(self, path: Path) -> Iterator[str]:
        """The texts of a table, streamed (but a JSON array), long ones cut as lines are."""
        suffix = format_suffix(path)
        fields = (jsonl_texts(path) if json_lines(path) else self._csv_texts(path) if suffix in (".csv", ".tsv")
                  else iter_parquet_texts(path) if suffix in PARQUET_SUFFIXES
                  else iter(read_values(path)))  # a JSON array or a workbook: read whole
        for field in fields:
            for piece in split_long(field.encode("utf-8")):
                yield piece.decode("utf-8")

    def _csv_texts(self, path: Path) -> Iterator[str]:
        """The text column of a CSV/TSV (a header names it: text, review...); quoted fields keep
        their newlines. Without such a header, its lines, with a warning."""
        csv.field_size_limit(min(sys.maxsize, 1 << 30))
        with open_text(path, newline="") as f:
            delimiter = "\t" if format_suffix(path) == ".tsv" else sniff_delimiter(f.read(SNIFF_CHARS + 1))
            f.seek(0)
            rows = csv.reader(f, delimiter=delimiter)
            column = find_column(next(rows, []), TEXT_COLUMNS, words_from=2)
            if column is None:
                logger.warning("%s has no column named as texts are (text, review, sentence...): its whole lines, "
                               "with every column, are read as text. Save the texts one per line, or name the "
                               "column in the header.", path)
                yield from self._iter_file(path, [0])
                return
            yield from (row[column] for row in rows if len(row) > column)

    def __iter__(self) -> Iterator[str]:
        counter = [0]
        self.invalid_examples = []
        self.lines_read = 0
        for path in self._paths:
            if isinstance(path, str):
                lines = iter_nltk_lines(path[len(NLTK_PREFIX):])
            elif is_table(path):  # their text column, not their raw lines
                lines = self._iter_table(path)
            elif _wiki_dump(path):  # its articles' text, not its XML
                lines = wiki_lines(functools.partial(open_text_bytes, path), str(path))
            elif format_suffix(path) in HTML_SUFFIXES:  # the text a browser shows, not the markup
                lines = html_lines(self._iter_file(path, counter))
            else:
                lines = self._iter_file(path, counter)
            for line in lines:
                self.lines_read += 1
                line = line.strip()
                if line:
                    yield line
        reported = self.invalid_lines == counter[0]  # each pass finds the same lines: say it once
        self.invalid_lines = counter[0]
        if counter[0] and not reported:
            logger.warning(
                "%s not valid UTF-8 %s read with replacement characters (first: %s).", counted(counter[0], "line"),
                "was" if counter[0] == 1 else "were", ", ".join(self.invalid_examples)
            )

    def __repr__(self) -> str:
        return f"TextCorpus({self.sources!r})"
