"""Delimited text (CSV/TSV) decoded and split into records, its encoding and quoting detected; tables written.

The file is decoded once (a UTF-8 BOM is dropped; lines that are not valid
UTF-8 are counted and read with replacement characters; a file saved by
Excel on Windows is read in its code page, `legacy_encoding`) and handed to `csv` as a whole, so
quoted fields keep their newlines and odd characters. The quoting is
detected, not assumed: GLUE-style TSVs hold texts that start with quote
marks without being quoted fields, and are read without quoting; a file
whose quoting cannot be told apart is refused with the line to look at.
"""

from __future__ import annotations

import codecs
import collections
import csv
import io
from collections.abc import Iterable, Sequence
from pathlib import Path

from tfxfer.atomic import write_atomic
from tfxfer.data.compressed import READ_ERRORS, damaged_note, open_bytes
from tfxfer.data.workbook import WORKBOOK_SUFFIXES, write_workbook
from tfxfer.errors import DataError

# A field csv would read as quoted: "...", inner quotes doubled.
_QUOTE = '"'
# Text saved as UTF-16 starts with one of these: Excel's "Unicode Text" (tab-separated) and
# Windows PowerShell 5's `>` write it. Read as UTF-8 it is NUL bytes every other byte.
UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
# The delimiters a CSV is read with, the first preferred where they split its start equally well.
DELIMITERS = (",", ";", "\t")
# How much of a file's start `sniff_delimiter` reads.
SNIFF_CHARS = 65536


# The code pages Excel saves CSV in on Windows, by locale ("ANSI"), with the names users know them by:
# Western European, Japanese, Simplified Chinese, Korean, Traditional Chinese, Cyrillic.
LEGACY_ENCODINGS = {"cp1252": "Windows-1252", "cp932": "Shift-JIS (Windows-31J)", "gb18030": "GBK (GB18030)",
                    "cp949": "Korean (CP949)", "big5": "Big5", "cp1251": "Windows-1251"}
# Bytes `legacy_encoding` looks at.
LEGACY_SAMPLE_BYTES = 1 << 20


def legacy_encoding(data: bytes) -> str:
    """The code page of text that is not UTF-8: of `LEGACY_ENCODINGS`, the one charset-normalizer
    finds most plausible (its guess among all encodings names cp1250 for French, mac_cyrillic
    for Russian), if the text reads as that script; else Windows-1252."""
    from charset_normalizer import from_bytes

    sample = data[:LEGACY_SAMPLE_BYTES]
    if len(data) > len(sample):  # cut after a line, not inside a character of two bytes
        sample = sample[:sample.rfind(b"\n") + 1] or sample
    best = from_bytes(sample, cp_isolation=list(LEGACY_ENCODINGS)).best()
    if not best or best.encoding not in LEGACY_ENCODINGS:
        return "cp1252"
    return best.encoding if best.encoding == "cp1252" or _own_script(str(best)) else "cp1252"


def _own_script(text: str) -> bool:
    """Whether text decoded in a non-Western code page reads as its script: its characters beyond
    ASCII stand among their own kind, not inside Latin words. Windows-1252 misread is the other case:
    a £ after a word read as Shift-JIS's `you｣`, `café` as Windows-1251's `cafй`."""
    beyond = [i for i, c in enumerate(text) if ord(c) > 127]
    latin = [i for i in beyond if any(0 <= j < len(text) and text[j].isascii() and text[j].isalpha()
                                      for j in (i - 1, i + 1))]
    return len(latin) <= 0.25 * len(beyond)


def decode(data: bytes) -> tuple[str, int, str]:
    """Text without a BOM, how many lines were not valid UTF-8, and the encoding read.

    UTF-8, line by line with replacement characters where a line is not; but a
    file none of whose non-ASCII lines is UTF-8 was saved in a legacy encoding
    (Excel's CSV on Windows: Windows-1252, Shift-JIS in Japan...) and is read in
    the code page `legacy_encoding` finds. A file that
    starts with UTF-16's byte-order mark (Excel's "Unicode Text") is UTF-16.
    """
    if data[:2] in UTF16_BOMS:
        return data.decode("utf-16", errors="replace"), 0, "UTF-16"
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8"), 0, "utf-8"
    except UnicodeDecodeError:
        pass
    out, bad, good = [], 0, 0
    for line in data.split(b"\n"):
        try:
            out.append(line.decode("utf-8"))
            good += not line.isascii()
        except UnicodeDecodeError:
            bad += 1
            out.append(line.decode("utf-8", errors="replace"))
    if not good:
        encoding = legacy_encoding(data)
        try:
            return data.decode(encoding), 0, LEGACY_ENCODINGS[encoding]
        except UnicodeDecodeError:  # past the sample, or bytes cp1252 leaves undefined
            return data.decode(encoding, errors="replace"), 0, LEGACY_ENCODINGS[encoding]
    return "\n".join(out), bad, "utf-8"


def read_text(path: Path) -> tuple[str, int, str]:
    """`decode` of a file's bytes (decompressed, `reviews.csv.gz`); `DataError` naming the file
    when it cannot be read."""
    try:
        with open_bytes(path) as f:
            return decode(f.read())
    except READ_ERRORS as e:
        reason = getattr(e, "strerror", None) or e
        raise DataError(f"Cannot read {str(path)!r}: {reason}.{damaged_note(path)}") from None


class _QuotingError(Exception):
    def __init__(self, line: int, message: str):
        super().__init__(message)
        self.line = line


def _records(text: str, delimiter: str, quoting: int) -> list[tuple[int, list[str]]]:
    """`(first line, fields)` of each non-blank record; `_QuotingError` on bad quoting."""
    # NUL characters are junk in a table, and Python 3.10's csv refuses them ("line contains NUL")
    # where 3.11 keeps them: drop them, so that every Python reads the same records.
    reader = csv.reader(io.StringIO(text.replace("\0", ""), newline=""), delimiter=delimiter, quoting=quoting, strict=True)
    out, line = [], 1
    try:
        for row in reader:
            if any(f.strip() for f in row):
                out.append((line, row))
            line = reader.line_num + 1
    except csv.Error as e:
        raise _QuotingError(line, str(e)) from None
    return out


def _is_quoted_field(field: str) -> bool:
    inner = field[1:-1]
    return len(field) >= 2 and field[0] == field[-1] == _QUOTE and _QUOTE not in inner.replace(_QUOTE * 2, "")


def _swallowed(records, delimiter: str, width: int) -> int | None:
    """The line of a quoted field whose lines look like whole rows (an unclosed quote), if any.

    A line looks like a row when it splits into `width` fields, one of them a
    value its column holds elsewhere (a label): continuation lines of a quoted
    multi-line text often hold the delimiter too (prose has commas), but not
    a label after it.
    """
    if width < 2:
        return None
    values = [{r[i].strip() for _, r in records if len(r) == width} - {""} for i in range(width)]
    for line, row in records:
        for field in row:
            lines = field.split("\n")[1:]
            rows = sum(1 for l in lines if len(cells := l.split(delimiter)) == width
                       and any(c.strip() in values[i] for i, c in enumerate(cells)))
            if lines and rows >= max(1, len(lines) // 2):
                return line
    return None


def _ambiguous(source: str, line: int, delimiter: str, detail: str = "") -> DataError:
    fix = ("save it without quoting (each row on one line, no quote marks around fields)" if delimiter == "\t"
           else 'quote every field that holds the delimiter or a quote mark, doubling inner quotes ("")')
    return DataError(
        f"{source}:{line}: the quoting of this file is ambiguous{detail}: a quote mark opens a field that does "
        f"not close where it should, so rows would run together or split. Check line {line}, and {fix}."
    )


def parse(text: str, delimiter: str, source: str) -> tuple[list[tuple[int, list[str]]], str | None]:
    """Records of a delimited file, with its quoting detected.

    TSV: read without quoting when that gives every row the same number of
    fields and no field looks written by a CSV quoter (well-formed quoted
    fields with doubled inner quotes, or whole columns quoted): GLUE-style
    files, where a text may start with a quote mark. Otherwise, and for CSV,
    with standard quoting, refusing fields that open a quote and swallow the
    rows after it.

    Returns:
        `(records, note)`: `(line, fields)` per non-blank record, and a note
        when quote marks were kept as part of the texts.
    """
    plain = _records(text, delimiter, csv.QUOTE_NONE)
    if _QUOTE not in text:
        return plain, None
    widths = collections.Counter(len(r) for _, r in plain)
    width = widths.most_common(1)[0][0] if widths else 0
    if delimiter == "\t" and len(widths) == 1:
        fields = [f for _, r in plain for f in r]
        starts = [f for f in fields if f.startswith(_QUOTE)]
        csv_style = all(_is_quoted_field(f) for f in starts) and (
            any(_QUOTE * 2 in f[1:-1] for f in starts) or len(starts) >= len(fields) / 2)
        if not csv_style:
            return plain, "quote marks were read as part of the texts (a TSV without quoting, as GLUE's)"
    try:
        quoted = _records(text, delimiter, csv.QUOTE_MINIMAL)
    except _QuotingError as e:
        raise _ambiguous(source, e.line, delimiter, f" ({e})") from None
    line = _swallowed(quoted, delimiter, width)
    if line is not None:
        raise _ambiguous(source, line, delimiter)
    return quoted, None


def sniff_delimiter(text: str, cut: bool = False) -> str:
    """`,`, `;` or tab: the one that splits the first row into two or more columns and the most
    rows of the file's start into as many (`,` where none does). `cut`: `text` is only the start
    of the file, its last row perhaps cut short (as is any text past `SNIFF_CHARS`).

    `csv.Sniffer` gives up on a file with a quoted newline or with prose commas in a `;` file (as
    Excel saves CSV where the decimal mark is a comma), and a guess of `,` then mangles every row.
    """
    sample, cut = text[:SNIFF_CHARS].replace("\0", ""), cut or len(text) > SNIFF_CHARS
    best, best_share = ",", 0.0
    for delimiter in DELIMITERS:
        rows = list(csv.reader(io.StringIO(sample, newline=""), delimiter=delimiter))
        if cut:
            rows = rows[:-1] or rows  # the last row may be cut short
        if not rows or len(rows[0]) < 2:
            continue
        share = sum(len(row) == len(rows[0]) for row in rows) / len(rows)
        if share > best_share:
            best, best_share = delimiter, share
    return best


def write_table(path: str | Path, rows: Iterable[Sequence], choices: dict[str, Sequence[str]] | None = None) -> None:
    """`rows` (a header, then data) written atomically: an Excel workbook when `path` ends `.xlsx`
    (`choices`: header name -> values offered in that column, as `write_workbook`'s), else a CSV in
    UTF-8 (numbers written as given), a row at a time as `rows` yields them (an exception from it
    leaves no file)."""
    path = Path(path)
    if path.suffix.lower() in WORKBOOK_SUFFIXES:
        write_atomic(path, lambda tmp: write_workbook(tmp, rows, choices))
        return

    def write_csv(tmp: Path) -> None:
        with open(tmp, "w", encoding="utf-8", newline="") as f:
            csv.writer(f, lineterminator="\n").writerows(rows)

    write_atomic(path, write_csv)
