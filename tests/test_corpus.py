import gzip
import json
import re
import time

import pytest

from tests.conftest import needs_shared_data
from tfxfer.data.image_files import load_image_list
from tfxfer.data.labeled import load_labeled_text
from tfxfer.data.text import TextCorpus
from tfxfer.data.unlabeled import load_unlabeled
from tfxfer.errors import DataError


def test_files_gz_and_directories_stream_in_order(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "b.txt").write_text("second file\n")
    with gzip.open(tmp_path / "d" / "a.gz", "wt") as f:
        f.write("first file\n\n")
    (tmp_path / "one.txt").write_text("  alone  \n")
    corpus = TextCorpus([tmp_path / "one.txt", tmp_path / "d"])
    assert list(corpus) == ["alone", "first file", "second file"]
    assert list(corpus) == ["alone", "first file", "second file"]  # restartable


def test_utf16_text_is_read_as_text(tmp_path):
    # Windows PowerShell 5's `>` and Excel's "Unicode Text" write UTF-16 with a byte-order mark:
    # NUL bytes every other byte, which made such files look binary.
    (tmp_path / "d").mkdir()
    (tmp_path / "ps.txt").write_bytes("\ufeffcafé crème\r\nsecond line\r\n".encode("utf-16-le"))
    (tmp_path / "d" / "big.txt").write_bytes("\ufeffbig endian\n".encode("utf-16-be"))
    with gzip.open(tmp_path / "d" / "z.gz", "wb") as f:
        f.write("\ufeffzipped too\n".encode("utf-16-le"))
    corpus = TextCorpus([tmp_path / "ps.txt", tmp_path / "d"])
    assert list(corpus) == ["café crème", "second line", "big endian", "zipped too"]
    assert corpus.skipped_files == [] and corpus.invalid_lines == 0


def test_a_utf8_byte_order_mark_is_not_part_of_the_first_text(tmp_path):
    # Notepad's "UTF-8 with BOM": the first unlabeled text was read as "\ufeffthe cat...", its first
    # word unknown to the module, and not recognised as a labeled example (fit-head --unlabeled).
    (tmp_path / "bom.txt").write_bytes("\ufeffthe cat sat\r\nthe dog ran\r\n".encode("utf-8"))
    with gzip.open(tmp_path / "bom.gz", "wb") as f:
        f.write("\ufeffzipped too\n".encode("utf-8"))
    assert list(TextCorpus([tmp_path / "bom.txt", tmp_path / "bom.gz"])) == ["the cat sat", "the dog ran", "zipped too"]
    assert load_unlabeled(tmp_path / "bom.txt", images=False, limit=10) == (["the cat sat", "the dog ran"], 2)


def test_text_saved_in_a_legacy_encoding_is_read_as_windows_1252(tmp_path, caplog):
    # Notepad's "ANSI" and older Project Gutenberg texts: café is café, not caf and U+FFFD.
    (tmp_path / "ansi.txt").write_bytes("plain first line\nthe café opens\n“quoted” résumé\n".encode("cp1252"))
    (tmp_path / "utf8.txt").write_bytes("a naïve line\n".encode() + b"a damaged \xe9 line\n")
    corpus = TextCorpus([tmp_path / "ansi.txt", tmp_path / "utf8.txt"])
    assert list(corpus) == ["plain first line", "the café opens", "“quoted” résumé", "a naïve line",
                            "a damaged \ufffd line"]
    assert corpus.legacy_files == {tmp_path / "ansi.txt": "cp1252"} and corpus.invalid_lines == 1
    assert caplog.text.count("ansi.txt is not UTF-8: read as Windows-1252") == 1
    list(corpus)
    assert caplog.text.count("ansi.txt is not UTF-8: read as Windows-1252") == 1  # said once, not each pass
    japanese = ["とても良い映画でした", "最高の体験です", "つまらない作品です", "音楽が素晴らしかった"]
    (tmp_path / "sjis.txt").write_bytes("\n".join(["An English first line", *japanese]).encode("cp932"))
    assert list(TextCorpus([tmp_path / "sjis.txt"]))[1:] == japanese  # not taken for binary data either
    assert "sjis.txt is not UTF-8: read as Shift-JIS (Windows-31J)" in caplog.text


def test_a_folder_of_many_small_files_is_listed_in_linear_time(tmp_path):
    # aclImdb's 35,001 one-review files took 254 s to list (each file was looked up in a set rebuilt
    # for it); 0.9 s now.
    for i in range(20_000):
        (tmp_path / f"{i}_7.txt").write_text(f"review {i}\n")
    (tmp_path / "junk.txt").write_bytes(b"\x00\x01 binary")
    start = time.perf_counter()
    corpus = TextCorpus([str(tmp_path)])
    assert time.perf_counter() - start < 10
    assert sum(1 for _ in corpus) == 20_000 and corpus.skipped_files == [str(tmp_path / "junk.txt")]


def test_a_folder_of_documents_reads_its_text_and_counts_what_it_leaves_out(tmp_path, caplog):
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "README.MD").write_text("# Notes\nmarkdown is text\n")
    (tmp_path / "notes" / "guide.rst").write_text("Guide\n=====\nso is reStructuredText\n")
    (tmp_path / "notes" / "LOG.TXT").write_text("an upper-case suffix\n")
    for name in ("a.pdf", "b.pdf", "c.docx", "photo.jpg"):
        (tmp_path / "notes" / name).write_bytes(b"%PDF-1.4 \x00\x01")
    (tmp_path / "notes" / "old.txt.gz").write_bytes(gzip.compress(b"compressed text\n"))
    (tmp_path / "notes" / "stats.csv.gz").write_bytes(gzip.compress(b"id,text\n1,a table\n"))  # as a .csv is
    assert sorted(TextCorpus([tmp_path / "notes"])) == ["# Notes", "=====", "Guide", "an upper-case suffix",
                                                       "compressed text", "markdown is text", "so is reStructuredText"]
    assert "Left out 5 files in " in caplog.text and "by their suffix (2 .pdf, 1 .docx, 1 .jpg, 1 .csv)" in caplog.text
    assert "pdftotext" in caplog.text


def test_bz2_and_xz_stream_and_archives_name_the_fix(tmp_path):
    import bz2
    import lzma
    import zipfile

    (tmp_path / "wiki.bz2").write_bytes(bz2.compress("a wikipedia dump\nis bzip2\n".encode()))
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "news.xz").write_bytes(lzma.compress(b"xz text\n"))
    assert list(TextCorpus([tmp_path / "wiki.bz2", tmp_path / "d"])) == ["a wikipedia dump", "is bzip2", "xz text"]
    (tmp_path / "broken.xz").write_bytes(lzma.compress(b"cut short\n" * 1000)[:40])
    with pytest.raises(DataError, match="Cannot read '.*broken.xz': .* It may be truncated or damaged."):
        list(TextCorpus([tmp_path / "broken.xz"]))
    with zipfile.ZipFile(tmp_path / "texts.zip", "w") as z:
        z.writestr("a.txt", "zipped\n")
    with pytest.raises(DataError, match=r"'.*texts.zip' is an archive of files. Extract it \(unzip, tar -xf\) and pass the folder"):
        TextCorpus([tmp_path / "texts.zip"])


def wiki_dump(pages: list[tuple[str, int, str]], level: int = 9) -> bytes:
    """A MediaWiki XML export of `(title, namespace, wikitext)` pages, bzip2-compressed as Wikipedia's are."""
    import bz2
    from xml.sax.saxutils import escape

    body = "".join(f"<page><title>{escape(title)}</title><ns>{ns}</ns><id>{n}</id><revision><id>{n}</id>"
                   f'<text xml:space="preserve">{escape(text)}</text></revision></page>\n'
                   for n, (title, ns, text) in enumerate(pages, 1))
    return bz2.compress(('<?xml version="1.0"?>\n<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.10/" '
                         'version="0.10" xml:lang="en">\n<siteinfo><sitename>Wikipedia</sitename></siteinfo>\n'
                         f"{body}</mediawiki>\n").encode(), level)


def test_a_wikipedia_dump_gives_its_articles_text_without_markup(tmp_path):
    dump = wiki_dump([
        ("Ant", 0, ("{{Infobox taxon\n| name = Ant\n}}\n'''Ants''' are [[eusocial]] [[insect]]s of the "
                    "[[Family (biology)|family]] ''Formicidae''.<ref>{{cite book |last=Gotwald}}</ref>\n\n"
                    "[[File:Ant.jpg|thumb|An ant carrying a leaf]]\n== Etymology ==\n* From ''ante'' &amp; more.\n"
                    "[[Category:Ants]]")),
        ("Ants", 0, "#REDIRECT [[Ant]]"),
        ("Talk:Ant", 1, "Is this right? ~~~~"),
    ])
    # bzip2 blocks of 100 kB: the start of the dump reads, and its end is cut in the middle of a page.
    longer = wiki_dump([(f"Page {n}", 0, f"Text {n} of many pages.") for n in range(5000)], level=1)
    path = tmp_path / "enwiki-latest-pages-articles.xml.bz2"
    path.write_bytes(dump)
    expected = ["Ants are eusocial insects of the family Formicidae.", "An ant carrying a leaf", "Etymology",
                "From ante & more."]
    assert list(TextCorpus([path])) == expected
    assert list(TextCorpus([tmp_path])) == expected  # in a folder too
    path.write_bytes(longer[:len(longer) * 2 // 3])  # a download cut short
    with pytest.raises(DataError, match=r"Cannot read the wiki dump '.*xml.bz2': .* It may be cut short: download "
                                        r"it again"):
        list(TextCorpus([path]))


def test_web_pages_give_the_text_they_show_and_documents_name_the_tool_that_takes_it_out(tmp_path):
    site = tmp_path / "site"
    (site / "docs").mkdir(parents=True)
    (site / "index.html").write_text(
        "<!DOCTYPE html><html><head><title>Ant care</title><style>p { color: red }</style>"
        "<script>var queen = 1; if (a < b) {}</script></head><body><nav><a href='/'>Home</a></nav>"
        "<h1>Feeding  ants</h1><p>Ants eat <b>sugar</b> &amp; protein.<br/>Give water daily.</p>"
        "<ul><li>honey</li><li>crickets</li></ul><p>Unclosed paragraph<div>then a div</div></body></html>")
    (site / "docs" / "faq.htm").write_text("<p>Do ants sleep?</p>")
    (site / "site.css").write_text("body { margin: 0 }")
    expected = ["Ant care", "Home", "Feeding ants", "Ants eat sugar & protein.", "Give water daily.", "honey",
                "crickets", "Unclosed paragraph", "then a div"]
    assert list(TextCorpus([site / "index.html"])) == expected
    assert list(TextCorpus([site])) == ["Do ants sleep?", *expected]  # read from a folder, the stylesheet left out
    # Documents in binary formats: refused, naming the tool that takes their text out.
    (tmp_path / "paper.pdf").write_bytes(b"%PDF-1.4 \x00\x01")
    with pytest.raises(DataError, match=r"'.*paper.pdf' is a PDF, not text: take its text out first \(pdftotext "
                                        r".*paper.pdf paper.txt\) and pass the .txt."):
        TextCorpus([tmp_path / "paper.pdf"])
    (tmp_path / "notes.docx").write_bytes(b"PK\x03\x04")
    with pytest.raises(DataError, match=r"is a Word document, not text: .*\(pandoc .*notes.docx -t plain -o notes.txt"):
        TextCorpus([tmp_path / "notes.docx"])


def test_missing_source_names_the_fix(tmp_path):
    with pytest.raises(DataError, match="not found. Pass a text file"):
        TextCorpus([tmp_path / "missing.txt"])
    # Data named by URL: nothing is downloaded at run time, and the message says how to fetch it.
    url = "https://example.com/reviews.csv"
    fix = (r"'https://example.com/reviews.csv' is a URL: tfxfer reads local files and downloads nothing. Download "
           r"it first \(e.g. curl -LO https://example.com/reviews.csv\) and pass the file.")
    with pytest.raises(DataError, match="Corpus " + fix):
        TextCorpus([url])
    with pytest.raises(DataError, match="Labeled data " + fix):
        load_labeled_text(url)
    with pytest.raises(DataError, match="Image data " + fix):
        load_image_list(url)
    with pytest.raises(DataError, match="Unlabeled images " + fix):
        load_unlabeled(url, images=True, limit=10)
    with pytest.raises(DataError, match="Unlabeled data " + fix):
        load_unlabeled(url, images=False, limit=10)
    # A Google Sheet's CSV: curl -O would name the file 'export?format=csv', and a shell globs the '?'.
    with pytest.raises(DataError, match=re.escape("(e.g. curl -L -o export.csv 'https://docs.google.com/spreadsheets/"
                                                  "d/abc/export?format=csv&gid=0') and pass the file.")):
        load_labeled_text("https://docs.google.com/spreadsheets/d/abc/export?format=csv&gid=0")
    # curl cannot fetch from buckets: the copy named is their tools'.
    with pytest.raises(DataError, match=r"Download it first \(e.g. gcloud storage cp -r gs://b/train.csv \.\) and"):
        load_labeled_text("gs://b/train.csv")
    with pytest.raises(DataError, match=r"Download it first \(e.g. aws s3 cp s3://b/corpus.txt \.\) and"):
        TextCorpus(["s3://b/corpus.txt"])
    with pytest.raises(DataError, match="No corpus given"):
        TextCorpus([])


@needs_shared_data
def test_nltk_corpora_by_name():
    brown = TextCorpus(["nltk:brown"])
    first = next(iter(brown))
    assert first.startswith("The Fulton County Grand Jury said")
    polarity = list(TextCorpus(["nltk:sentence_polarity"]))
    assert len(polarity) == 10662
    webtext = next(iter(TextCorpus(["nltk:webtext"])))
    assert isinstance(webtext, str) and webtext
    # Their texts, not their files' markup: nps_chat's XML, pros_cons's <Cons> tags (its label on every
    # line, for pretraining and --unlabeled to learn), product reviews' annotation ("picture[+2]##...").
    chat = list(TextCorpus(["nltk:nps_chat"]))
    assert len(chat) == 10567 and chat[:2] == ["now im left with this gay name", ":P"]
    pros_cons = list(TextCorpus(["nltk:pros_cons"]))
    # 45,875 sentences, 8 of them empty.
    assert len(pros_cons) == 45867 and not any("<Cons>" in line or "</Pros>" in line for line in pros_cons)
    reviews = list(TextCorpus(["nltk:product_reviews_1"]))
    assert reviews[0].startswith("repost from january 13") and not any("##" in line for line in reviews)


def test_nltk_corpus_not_installed_names_the_fix(monkeypatch, tmp_path):
    import nltk

    monkeypatch.setattr(nltk.data, "path", [str(tmp_path)])
    with pytest.raises(DataError, match="python -m nltk.downloader"):
        TextCorpus(["nltk:state_union"])


def test_a_table_given_as_corpus_gives_its_text_column(tmp_path, caplog):
    table = tmp_path / "reviews.csv"
    table.write_text('id,Review Text,date\n1,"Fits well,\nsoft",2024-01-01\n2,Too small,2024-01-02\n')
    assert list(TextCorpus([table])) == ["Fits well,\nsoft", "Too small"]  # not the ids and dates
    table.write_text("review_id,Review Text\nU1,Fits well\n")  # two columns: a header word is enough
    assert list(TextCorpus([table])) == ["Fits well"]
    table.write_text("id,Copy,date\n1,Fits well,2024\n")  # no column named as texts are: lines, with a warning
    assert list(TextCorpus([table])) == ["id,Copy,date", "1,Fits well,2024"]
    assert "its whole lines, with every column, are read as text" in caplog.text
    # Excel's CSV where the decimal mark is a comma: ';' between columns, a byte-order mark.
    table.write_bytes("\ufeffReview Text;Rating\r\nFits well, soft;4,5\r\n\"Too small; \"\"tiny\"\"\";1,0\r\n".encode())
    assert list(TextCorpus([table])) == ["Fits well, soft", 'Too small; "tiny"']


def test_json_lines_given_as_corpus_give_their_text_key(tmp_path):
    corpus = tmp_path / "dump.jsonl"
    corpus.write_text('{"id": 1, "text": "the first document"}\n\n{"id": 2, "text": "the second"}\n[1]\n')
    assert list(TextCorpus([corpus])) == ["the first document", "the second"]
    # As a pool (suggest --pool, --unlabeled): streamed into the sample, by the key named or found.
    corpus.write_text("".join(json.dumps({"id": i, "text": f" post {i} "}) + "\n" for i in range(3000)))
    sample, total = load_unlabeled(corpus, images=False, limit=50)
    assert total == 3000 and len(set(sample)) == 50 and all(t.startswith("post ") for t in sample)
    with pytest.raises(DataError, match=r"dump.jsonl': no key is named as the inputs are \(its records' keys: 'id', "
                                        r"'text'\). Name it with --input-column."):
        load_unlabeled(corpus, images=False, limit=5, column="body")


def test_json_lines_under_json_stream_as_json_lines(tmp_path, monkeypatch):
    # Amazon's reviews and Dataset.to_json write JSON Lines under .json: read whole, a 134 MB file took
    # 1.5 GB, streamed 0.98 GB.
    import tfxfer.data.text
    import tfxfer.data.unlabeled

    lines = tmp_path / "reviews.json"
    lines.write_text("".join(json.dumps({"asin": i, "reviewText": f"review {i}"}) + "\n" for i in range(3)))
    array = tmp_path / "export.json"  # pandas' to_json(orient="records"): one array, on one line
    array.write_text(json.dumps([{"text": "in an array"}]))
    pretty = tmp_path / "one.json"
    pretty.write_text('{\n  "text": "one object"\n}\n')
    whole = []
    read_values = tfxfer.data.text.read_values
    for module in (tfxfer.data.text, tfxfer.data.unlabeled):
        monkeypatch.setattr(module, "read_values", lambda path, *a: whole.append(path) or read_values(path, *a))
    assert list(TextCorpus([lines])) == ["review 0", "review 1", "review 2"]
    assert load_unlabeled(lines, images=False, limit=5)[1] == 3 and not whole  # streamed
    assert list(TextCorpus([array])) == ["in an array"] and whole == [array]
    with pytest.raises(DataError, match="one.json' is one JSON dict; expected JSON Lines"):
        list(TextCorpus([pretty]))
    table = tmp_path / "frame.json"  # DataFrame.to_json(): one object, on one line, read whole
    table.write_text(json.dumps({"text": {"0": "a frame's text", "1": "another"}, "label": {"0": "x", "1": "y"}}))
    assert list(TextCorpus([table])) == ["a frame's text", "another"] and whole[-1] == table
