"""Labeled text outside tables, as people really have it: fastText lines, lines that start with their
label, texts and labels in files line by line, files and folders named by their class, and the folders
that are none of these (a data set's splits, a Hugging Face dataset saved to disk)."""

import pytest

from tfxfer.data.labeled import load_labeled_text, read_fasttext
from tfxfer.errors import DataError


def test_fasttext_lines_are_accounted(tmp_path):
    path = tmp_path / "ft.txt"
    path.write_text("__label__pos fine\n__label__neg\n__label__pos ok\u2028still one line\nno label\n")
    data = read_fasttext(path)
    assert data.items == ["fine", "ok\u2028still one line"]
    assert [s["line"] for s in data.skipped] == [2, 4] and not data.notes
    path.write_text("__label__sauce __label__cheese How much does starch affect a cheese sauce?\n__label__sauce Why?\n")
    data = read_fasttext(path)  # fastText's tutorial data: several labels a line
    assert data.labels == ["sauce", "sauce"] and data.items[0] == "How much does starch affect a cheese sauce?"
    assert data.notes == ["1 line has several labels: the first is used. tfxfer trains one label per example; for "
                          "several labels per example, train one yes/no model per label."]
    path.write_text("no label\n__label__pos fine\n")  # a fastText file whose first line lost its label
    with pytest.raises(DataError, match=r"ft.txt:1: a fastText line starts with __label__NAME. Received: 'no label"):
        read_fasttext(path)
    path.write_text("a sentence of a corpus\nanother one\n")  # unlabeled text, given as labels
    with pytest.raises(DataError, match=r"ft.txt' is plain text, one line after another with no label: labeled text "
                                        r"is a CSV/TSV .* Unlabeled text is for pretrain-text, fit-head --unlabeled"):
        load_labeled_text(path)


def test_lines_that_start_with_their_label(tmp_path):
    # SentEval's and TREC's files: `1 a stirring , funny ...`, `DESC:manner How did ...`.
    path = tmp_path / "stsa.binary.train"
    path.write_text("".join(f"{i % 2} a review of film number {i}\n" for i in range(40)) + "1\n")
    data = load_labeled_text(path, skip_bad_rows=True)
    assert data.labels[:2] == ["0", "1"] and data.items[1] == "a review of film number 1"
    assert data.skipped == [{"line": 41, "reason": "empty text"}]
    assert "the first word of each line is its label" in data.notes[0]
    questions = ["DESC:manner How did serfdom develop in and then leave Russia ?", "NUM:dist How far is Denver ?",
                 "ENTY:animal What fowl grabs the spotlight after the Chinese Year of the Monkey ?"] * 20
    path.write_text("\n".join(questions))
    assert set(load_labeled_text(path).labels) == {"DESC:manner", "NUM:dist", "ENTY:animal"}
    path.write_text("pos: a fine film\nneg: a dull one\n" * 20)  # the colon is not part of the label
    assert load_labeled_text(path).labels[:2] == ["pos", "neg"]
    # Prose whose lines start with few words is not labels: 40 lines, 3 first words, is not 1 in 20.
    path.write_text("".join(f"{w} sentence {i} of a corpus\n" for i, w in zip(range(40), ["The", "A", "It"] * 14)))
    with pytest.raises(DataError, match="is plain text"):
        load_labeled_text(path)


def test_text_and_label_pairs_in_a_txt(tmp_path):
    # Kaggle's Emotions dataset for NLP: train.txt of `text;label`, no header.
    path = tmp_path / "train.txt"
    emotions = ["sadness", "joy", "anger"]
    path.write_text("".join(f"i feel the way a person feels on day {i};{emotions[i % 3]}\n" for i in range(60)))
    data = load_labeled_text(path)
    assert data.items[1] == "i feel the way a person feels on day 1" and data.labels[:3] == emotions
    # Each text holding one comma splits as evenly at `,`, and a sniffer's tie goes to `,`: read at `;`.
    path.write_text("".join(f"on day {i}, i feel fine;{emotions[i % 3]}\n" for i in range(60)))
    data = load_labeled_text(path)
    assert list(zip(*data))[:2] == [("on day 0, i feel fine", "sadness"), ("on day 1, i feel fine", "joy")]
    # One comma in every line of prose is no label column: its second halves differ.
    path.write_text("".join(f"on day {i}, it rained on field number {i}\n" for i in range(60)))
    with pytest.raises(DataError, match="is plain text"):
        load_labeled_text(path)


def test_texts_and_labels_in_files_line_by_line(tmp_path):
    # TweetEval: <split>_text.txt, <split>_labels.txt (class numbers), mapping.txt naming them.
    for split, n in (("train", 6), ("test", 3)):
        (tmp_path / f"{split}_text.txt").write_text("".join(f"tweet {i} of {split}\n" for i in range(n)))
        (tmp_path / f"{split}_labels.txt").write_text("".join(f"{i % 2}\n" for i in range(n)))
    (tmp_path / "mapping.txt").write_text("0\tanger\n1\tjoy\n")
    data = load_labeled_text(tmp_path / "train_text.txt")
    assert list(zip(*data))[:2] == [("tweet 0 of train", "anger"), ("tweet 1 of train", "joy")] and len(data.items) == 6
    assert "labels of train_labels.txt, line by line" in data.notes[0]
    # The folder was read as <label>.txt files, a class of each file: refused, naming the file to pass.
    with pytest.raises(DataError, match=r"holds texts and their labels in files line by line \(train_text.txt and "
                                        r"train_labels.txt\): pass '.*train_text.txt'"):
        load_labeled_text(tmp_path)
    (tmp_path / "test_labels.txt").write_text("0\n1\n")
    with pytest.raises(DataError, match=r"test_text.txt' has 3 lines and its labels file 'test_labels.txt' 2"):
        load_labeled_text(tmp_path / "test_text.txt")


def test_files_named_by_their_class(tmp_path):
    # Pang and Lee's movie review sentences: rt-polarity.pos and rt-polarity.neg, in Windows-1252.
    folder = tmp_path / "rt-polaritydata"
    folder.mkdir()
    (folder / "rt-polarity.pos").write_text("a fine film\nsimply magnifique\n", encoding="cp1252")
    (folder / "rt-polarity.neg").write_text("a dull film\nne'er a good one\nbof\n", encoding="cp1252")
    (folder / "rt-polaritydata.README.1.0.txt").write_text("Sentence polarity dataset v1.0\n")
    data = load_labeled_text(folder)
    assert sorted(zip(data.labels, data.items))[:3] == [("neg", "a dull film"), ("neg", "bof"),
                                                       ("neg", "ne'er a good one")]
    assert data.labels.count("pos") == 2 and "left out rt-polaritydata.README.1.0.txt" in data.notes[0]
    # Files of one name in several formats are no classes.
    (folder / "rt-polarity.pos").rename(folder / "rt-polarity.csv")
    (folder / "rt-polarity.neg").rename(folder / "rt-polarity.md")
    (folder / "rt-polaritydata.README.1.0.txt").unlink()
    with pytest.raises(DataError, match=r"no NAME.<label> files \(rt-polarity.pos and rt-polarity.neg\)"):
        load_labeled_text(folder)


def test_a_folder_of_splits_is_not_a_folder_of_classes(tmp_path):
    from tfxfer.data.labeled import read_class_folder

    root = tmp_path / "dataset"
    root.mkdir()
    (root / "train.txt").write_text("a fine film\n")
    (root / "test.txt").write_text("a dull film\n")
    with pytest.raises(DataError, match=r"holds the splits of a data set \(test, train\), not classes: pass "
                                         r"'.*dataset/train.txt' as the training data and '.*dataset/test.txt' as --validation"):
        read_class_folder(root)


def test_class_folders_of_documents_read_one_example_per_file(tmp_path):
    # aclImdb's layout: train/{pos,neg}/ID.txt, unlabeled reviews in train/unsup, lists beside them.
    root = tmp_path / "aclImdb"
    for split in ("train", "test"):
        for label in ("pos", "neg"):
            (root / split / label).mkdir(parents=True)
            for i in range(3):
                (root / split / label / f"{i}_7.txt").write_text(f"A {label} review {i}.<br /><br />Second line.\n")
    (root / "train" / "unsup").mkdir()
    (root / "train" / "unsup" / "0_0.txt").write_text("not labeled")
    (root / "train" / "urls_pos.txt").write_text("http://www.imdb.com/title/tt0453418/usercomments\n")
    (root / "train" / "labeledBow.feat").write_text("9 0:9 1:1\n")
    with pytest.raises(DataError, match=r"holds the splits of a data set \(test, train\)"):
        load_labeled_text(root)
    data = load_labeled_text(root / "train")
    assert sorted(zip(data.labels, data.items))[0] == ("neg", "A neg review 0.<br /><br />Second line.")
    assert len(data.items) == 6 and data.rows == 6 and set(data.labels) == {"pos", "neg"}
    assert data.notes == [f"unsup/ was left out of the labeled examples: its name says they are unlabeled "
                          f"(--unlabeled {root / 'train' / 'unsup'} uses them).",
                          "2 files beside the class folders were left out (labeledBow.feat, urls_pos.txt)."]
    # 20 Newsgroups' layout: files without extension, in nested folders, some in Latin-1; a document
    # over several lines stays one example; binary and empty files are rows that cannot be used.
    news = tmp_path / "20news-bydate-train"
    (news / "sci.space" / "2003").mkdir(parents=True)
    (news / "rec.autos").mkdir()
    (news / "sci.space" / "2003" / "60801").write_text("From: a@b\n\nThe orbit is stable.\n")
    (news / "rec.autos" / "101551").write_bytes("Subject: caf\xe9 racer\n\nNice car.\n".encode("latin-1"))
    (news / "rec.autos" / "101552").write_bytes(b"\x00\x01binary")
    (news / "rec.autos" / "101553").write_text("  \n")
    (news / ".DS_Store").write_bytes(b"\x00")
    with pytest.raises(DataError, match=r"2 of 4 rows .* rec.autos/101552: not a text file; rec.autos/101553: "
                                        r"empty file.*--skip-bad-rows"):
        load_labeled_text(news)
    data = load_labeled_text(news, skip_bad_rows=True)
    assert data.labels == ["rec.autos", "sci.space"]
    assert data.items == ["Subject: caf\xe9 racer\n\nNice car.", "From: a@b\n\nThe orbit is stable."]
    # <label>.txt files with one stray folder beside them stay the classes.
    (tmp_path / "lines" / "old").mkdir(parents=True)
    (tmp_path / "lines" / "old" / "notes.txt").write_text("to do\n")
    (tmp_path / "lines" / "pos.txt").write_text("a fine film\ngreat\n")
    (tmp_path / "lines" / "neg.txt").write_text("a dull film\n")
    (tmp_path / "lines" / "meh.TXT").write_text("so so\n")  # saved on Windows
    assert load_labeled_text(tmp_path / "lines").labels == ["meh", "neg", "pos", "pos"]


def test_a_hugging_face_dataset_saved_to_disk_names_the_export(tmp_path):
    saved = tmp_path / "imdb"  # what datasets' save_to_disk writes
    saved.mkdir()
    (saved / "data-00000-of-00001.arrow").write_bytes(b"ARROW1\x00\x00")
    (saved / "dataset_info.json").write_text("{}")
    with pytest.raises(DataError, match=r"Hugging Face dataset saved with save_to_disk: pass its Arrow files, "
                                        r"'.*/imdb/data-\*\.arrow' \(quoted\)"):
        load_labeled_text(saved)
