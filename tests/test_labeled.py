"""Labeled tables as people really have them: every row read as written, or named."""

import random
import unicodedata
from pathlib import Path

import pytest

from tests.conftest import make_image_folder, needs_shared_data, write_csv
from tfxfer.data.image_files import load_image_list
from tfxfer.data.labeled import load_labeled_text
from tfxfer.data.labeled_data import LabeledData
from tfxfer.data.memory import labeled_from_memory
from tfxfer.data.table import read_table
from tfxfer.errors import DataError

WORDS = "good bad film plot actor scene music long short slow fast funny sad".split()


def sentences(n, seed=0, special=()):
    rng = random.Random(seed)
    out = []
    for i in range(n):
        text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 9)))
        if special and i % 4 == 0:
            text = text.replace(" ", special[i % len(special)], 1)
        out.append((text, "pos" if i % 2 else "neg"))
    return out


def test_bom_header_names_and_repeated_header(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes("\ufeffreview,sentiment\ngreat,pos\nawful,neg\nreview,sentiment\nfine,pos\n".encode())
    data = read_table(path)
    assert data.items == ["great", "awful", "fine"] and data.labels == ["pos", "neg", "pos"]
    assert data.skipped == [{"line": 4, "reason": "the header line again"}]
    with pytest.raises(DataError, match=r"1 of 4 rows .* line 4: the header line again.*--skip-bad-rows"):
        load_labeled_text(path)
    assert load_labeled_text(path, skip_bad_rows=True).labels == ["pos", "neg", "pos"]


def test_unknown_header_names_are_read_as_a_header(tmp_path):
    rows = sentences(20)
    path = write_csv(tmp_path / "h.csv", rows, header=("phrase_text", "mood"))
    data = read_table(path)
    assert "mood" not in data.labels and len(data.items) == 20
    assert any("read as a header" in n for n in data.notes)


def test_empty_labels_unquoted_commas_and_fragments_are_named(tmp_path):
    path = tmp_path / "messy.csv"
    path.write_text("text,label\ngood film,pos\nbad film,\nslow, long and sad,neg\nfine,pos\n,neg\nok,neg\n")
    data = read_table(path)
    reasons = {s["line"]: s["reason"] for s in data.skipped}
    assert reasons[3] == "empty label"
    assert reasons[4].startswith("3 columns, expected 2") and "Quote the text" in reasons[4]
    assert reasons[6] == "empty item"
    assert data.items == ["good film", "fine", "ok"]
    fragments = tmp_path / "frag.tsv"
    fragments.write_text("good\tpos\nbad\tneg\nok\tpos\nmeh\tneg\nthe movie\twas fine\n")
    reasons = [s["reason"] for s in read_table(fragments).skipped]
    assert len(reasons) == 1 and "sentence fragment" in reasons[0]


def test_a_header_of_another_file_is_named_but_a_class_called_like_a_column_is_kept(tmp_path):
    # A filled-in `suggest` CSV of chat posts: "Emotion" is a class seen once there, and a column name elsewhere.
    path = tmp_path / "to_label.csv"
    path.write_text("item,label\nlol,Statement\nhi all,Greet\nholy crap!,Emotion\nsentence,emotion\nok,Statement\n")
    data = read_table(path)
    assert data.labels == ["Statement", "Greet", "Emotion", "Statement"]
    assert data.skipped == [{"line": 5, "reason": "row 'sentence', 'emotion' looks like a header line in the "
                                                  "middle of the file"}]


def test_a_suggest_list_filled_in_part_way_trains_on_its_labeled_rows(tmp_path):
    path = tmp_path / "to_label.csv"
    path.write_text("item,label,guess,score\nthe goat,animals,animals,0.91\nthe tram,,vehicles,0.55\n"
                    "a sheep,animals,vehicles,0.51\nthe van,,vehicles,0.88\n")
    data = read_table(path).check(skip_bad_rows=False)
    assert data.items == ["the goat", "a sheep"] and data.labels == ["animals", "animals"]
    assert data.notes == ["2 rows of this `suggest` list are not labeled yet and left out."]
    # Beside the earlier labels, read from other columns: the report names the list's own.
    earlier = tmp_path / "labeled.tsv"
    earlier.write_text("text\tlabel\nthe cow\tanimals\nthe bus\tvehicles\n")
    both = LabeledData.merge([read_table(earlier), read_table(path)])
    assert both.columns == ("text", "label") and both.items == ["the cow", "the bus", "the goat", "a sheep"]
    assert both.notes[-1] == f"{path}: inputs from 'item', labels from 'label'"
    path.write_text("item,label,guess,score\nthe goat,,animals,0.91\nthe tram,,vehicles,0.55\n")
    with pytest.raises(DataError, match=r"is a `tfxfer suggest` list with no label filled in yet: write each "
                                        r"example's class in its label column"):
        read_table(path)
    path.write_text("text,label\nthe goat,animals\nthe tram,\na sheep,animals\n")  # any other file: a fault
    assert read_table(path).skipped == [{"line": 3, "reason": "empty label"}]


def test_texts_excel_saved_as_formula_errors_are_named_with_the_fix(tmp_path):
    # A suggest list opened in Excel and saved: "- battery life is poor" and "@united thanks" came back as errors.
    path = tmp_path / "to_label.csv"
    path.write_text("item,label,guess,score\n#NAME?,cons,pros,0.61\ngreat zoom,pros,pros,0.9\n#NAME?,pros,cons,0.55\n"
                    "heavy,cons,cons,0.8\n#VALUE!,cons,pros,0.5\nbad,,cons,0.7\n,pros,pros,0.6\n")
    with pytest.raises(DataError) as raised:
        read_table(path).check(skip_bad_rows=False)
    message = str(raised.value)
    assert message.startswith(f"4 of 7 rows of {str(path)!r} cannot be used: lines 2, 4, 6: an Excel error "
                              "(#NAME?, #VALUE!...) in place of the text: Excel took a text starting with =, +, - "
                              "or @ for a formula")
    assert "--out to_label.xlsx" in message and message.count("Excel error") == 1  # one reason, its lines listed
    assert "; line 8: empty item." in message
    data = read_table(path).check(skip_bad_rows=True)
    assert data.items == ["great zoom", "heavy"] and len(data.skipped) == 4
    # Saved as a workbook instead, the errors are error cells.
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    for row in (["item", "label"], ["#NAME?", "cons"], ["great zoom", "pros"], ["heavy", "cons"]):
        book.active.append(row)
    book.save(tmp_path / "to_label.xlsx")
    assert book.active["A2"].data_type == "e"
    data = read_table(tmp_path / "to_label.xlsx")
    assert data.items == ["great zoom", "heavy"] and "an Excel error" in data.skipped[0]["reason"]


def test_classes_named_by_macos_folders_match_the_same_names_typed(tmp_path):
    # macOS writes "négatif" decomposed (e + U+0301); a CSV typed by hand holds it composed.
    decomposed, composed = unicodedata.normalize("NFD", "négatif"), "négatif"
    assert decomposed != composed
    folder = tmp_path / "reviews"
    folder.mkdir()
    (folder / f"{decomposed}.txt").write_text("a dull film\nslow and long\n")
    (folder / "positif.txt").write_text("a fine film\nwell acted\n")
    typed = write_csv(tmp_path / "more.csv", [("awful", composed), ("great", "positif")])
    data = LabeledData.merge([load_labeled_text(folder), read_table(typed)])
    assert sorted(set(data.labels)) == [composed, "positif"]
    photos = make_image_folder(tmp_path / "photos")
    (photos / "red").rename(photos / unicodedata.normalize("NFD", "Éclair rouge"))
    assert "Éclair rouge" in set(load_image_list(photos).labels)


def test_a_header_read_as_data_in_memory_is_named_with_the_pandas_fix():
    # pd.read_csv(path, header=None) on a file with a header: its first row is ("text", "label").
    rows = [("text", "label"), ("lol", "Statement"), ("holy crap!", "Emotion"), ("ok", "Statement")]
    data = labeled_from_memory(([i for i, _ in rows], [l for _, l in rows]))
    assert data.labels == ["Statement", "Emotion", "Statement"]
    assert data.skipped == [{"line": "row 0", "reason": "('text', 'label') looks like a file's header read as "
                                                        "data (pandas: header=None?)"}]
    with pytest.raises(DataError, match=r"row 0: \('text', 'label'\) looks like a file's header"):
        data.check(skip_bad_rows=False)


def test_columns_named_by_the_user(tmp_path):
    path = tmp_path / "kaggle.csv"
    path.write_text("Clothing ID,Title,Review Text,Rating,Recommended IND\n"
                    "1,Nice,\"Fits well, soft\",5,1\n2,Meh,Too small,2,0\n3,Ok,Fine for the price,4,1\n")
    assert read_table(path).labels == ["5", "2", "4"]  # star ratings are labels
    ages = tmp_path / "ages.csv"
    ages.write_text(path.read_text().replace("Rating", "Age"))
    with pytest.raises(DataError, match=r"its inputs are in 'Review Text', but no column is named as the labels are "
                                         r"\(its first row is 'Clothing ID', .*Name it with --label-column"):
        read_table(ages)
    assert read_table(path, columns=(None, "recommended ind")).items[1] == "Too small"  # the text column: by its words
    data = read_table(path, columns=("review text", "Recommended IND"))  # names match case-insensitively
    assert list(zip(*data)) == [("Fits well, soft", "1"), ("Too small", "0"), ("Fine for the price", "1")]
    assert read_table(path, columns=("Title", "Rating")).labels == ["5", "2", "4"]
    with pytest.raises(DataError, match=r"The input and label columns are both 'Title': name two columns"):
        read_table(path, columns=("Title", "title"))
    misspelled = read_table(path, columns=("Reveiw Text", "Recommended IND"))  # found by name, and said so
    assert misspelled.items[1] == "Too small" and misspelled.notes[0].startswith(
        "no column 'Reveiw Text': read 'Review Text', found by its name")
    assert read_table(path, columns=("Review Text", "Stars")).notes[0].startswith(
        "no column 'Stars': read 'Rating', found by its name")
    with pytest.raises(DataError, match=r"ages.csv' has no column 'Stars'; its first row is 'Clothing ID'"):
        read_table(ages, columns=("Review Text", "Stars"))
    plain = write_csv(tmp_path / "plain.csv", [("a text", "pos"), ("another", "neg")])
    assert read_table(plain, columns=("Review Text", "Rating")).labels == ["pos", "neg"]  # a file without them: detected


def test_columns_of_review_data_sets_as_shared_are_found_by_their_names(tmp_path):
    # camelCase names (Amazon reviews, Kaggle's Coronavirus tweets) and star ratings as the labels.
    shared = {"amazon.csv": "reviewerID,asin,reviewerName,helpful,reviewText,overall,summary,unixReviewTime",
              "tweets.csv": "UserName,ScreenName,Location,TweetAt,OriginalTweet,Sentiment",
              "fine_food.csv": "Id,ProductId,UserId,ProfileName,HelpfulnessNumerator,HelpfulnessDenominator,Score,"
                               "Time,Summary,Text",
              "hotels.csv": "Review,Rating"}
    for name, header in shared.items():
        cells = header.split(",")
        item = next(c for c in cells if c.lower().endswith(("text", "tweet", "review")))
        label = next(c for c in cells if c in ("overall", "Sentiment", "Score", "Rating"))
        rows = [[{item: f"text number {i}", label: str(i % 2 + 4)}.get(c, f"{c} {i % 5}") for c in cells]
                for i in range(6)]
        data = read_table(write_csv(tmp_path / name, rows, header=cells))
        assert data.columns == (item, label) and data.items[0] == "text number 0" and data.labels[:2] == ["4", "5"]
    yelp = tmp_path / "yelp.jsonl"  # the Yelp Open Dataset's reviews
    yelp.write_text("".join(f'{{"review_id": "r{i}", "stars": {i % 2 + 4}, "useful": 0, "text": "good {i}"}}\n'
                            for i in range(4)))
    assert list(zip(*load_labeled_text(yelp)))[:2] == [("good 0", "4"), ("good 1", "5")]


def test_a_header_naming_two_columns_of_several_empty_ones_reads_those_two(tmp_path):
    # The SMS Spam Collection as Kaggle shares it: "v1,v2,,,", Windows-1252, and a few texts cut
    # at an unquoted comma, their end in the nameless columns.
    rows = [f"{'spam' if i % 3 == 0 else 'ham'},Message number {i} for you\u00a3,,," for i in range(40)]
    rows[5] = "ham,I'm gonna be home soon, but I will,,"
    path = tmp_path / "spam.csv"
    path.write_bytes(("v1,v2,,,\r\n" + "\r\n".join(rows) + "\r\n").encode("cp1252"))
    data = read_table(path)
    assert data.items[0] == "Message number 0 for you\u00a3" and data.labels[:3] == ["spam", "ham", "ham"]
    assert len(data.items) == 40 and data.items[5] == "I'm gonna be home soon"
    assert "its 3 columns without a name left out (1 row had text there: cut at an unquoted comma?)." in data.notes
    # Where many rows have text there, those columns are data: the file is refused as before.
    path.write_text("v1,v2,,,\n" + "".join(f"ham,text {i},more,x,\n" for i in range(10)))
    with pytest.raises(DataError, match="needs a header naming its text and label columns"):
        read_table(path)


def test_columns_of_a_file_without_header_are_named_by_position(tmp_path):
    # AG News and DBpedia as distributed: class index, title, description; no header.
    path = tmp_path / "ag_news.csv"
    path.write_text('"3","Wall St. Bears","Short-sellers, Wall Street\'s dwindling band"\n'
                    '"4","New chip","Intel, AMD race to 64 bits"\n"3","Oil prices","Crude rises"\n')
    with pytest.raises(DataError, match=r"needs a header .* without a header, by position \(--input-column 3 "
                                        r"--label-column 1\)"):
        read_table(path)
    data = read_table(path, columns=("3", "1"))
    assert list(zip(*data)) == [("Short-sellers, Wall Street's dwindling band", "3"),
                                ("Intel, AMD race to 64 bits", "4"), ("Crude rises", "3")]
    assert data.notes == ["no header: inputs from column 3, labels from column 1."]
    with pytest.raises(DataError, match=r"ag_news.csv' has no column 4: its rows have 3 columns \(numbered 1 to 3\)"):
        read_table(path, columns=("4", "1"))
    with pytest.raises(DataError, match=r"no column named '2'; to take columns by position .* give both"):
        read_table(path, columns=("2", None))
    from tfxfer.data.records import read_values

    assert read_values(path, "2") == ["Wall St. Bears", "New chip", "Oil prices"]  # a headerless pool, too
    named = tmp_path / "pandas.csv"  # a header of numbers (pandas' default column names) is a header
    named.write_text("0,1\nfine film,pos\ndull film,neg\n")
    assert read_table(named, columns=("0", "1")).items == ["fine film", "dull film"]
    # Sentiment140 as distributed: polarity, id, date, query, user, text. The error names its likely columns.
    rows = [(str(i % 2 * 4), str(1467810369 + i), "Mon Apr 06 22:19:45 PDT 2009", "NO_QUERY", f"user{i}",
             f"a tweet of some length, number {i}") for i in range(20)]
    with pytest.raises(DataError, match=r"by position \(here likely --input-column 6 --label-column 1: the longest "
                                        r"texts, and the fewest values\)\.$"):
        read_table(write_csv(tmp_path / "sentiment140.csv", rows, header=None))
    with pytest.raises(DataError, match=r"by position \(--input-column 3 --label-column 1\)\.$"):  # a header: no guess
        read_table(write_csv(tmp_path / "headed.csv", rows, header=("p", "i", "d", "q", "u", "t")))


def test_header_words_name_columns_only_in_wide_rows(tmp_path):
    wide = tmp_path / "jigsaw.csv"
    wide.write_text("id,comment_text,toxic_label\n1,you are great,0\n2,you are awful,1\n3,fine,0\n")
    assert list(zip(*read_table(wide))) == [("you are great", "0"), ("you are awful", "1"), ("fine", "0")]
    amazon = tmp_path / "amazon.tsv"  # ids, titles and dates around the text: the review's body, not its id
    amazon.write_text("review_id\treview_headline\treview_body\tstar_rating\tlabel\n"
                      "R1\tGood\tWorks well\t5\tpos\nR2\tBad\tBroke fast\t1\tneg\nR3\tOk\tFine\t4\tpos\n")
    assert read_table(amazon).items == ["Works well", "Broke fast", "Fine"]
    # AG News as Kaggle shares it: class codes under "Class Index". Ids of a label are the label.
    ag_news = tmp_path / "ag_news.csv"
    ag_news.write_text('"Class Index","Title","Description"\n"3","Wall St.","Short-sellers, back"\n'
                       '"4","New chip","Intel, AMD race"\n"3","Oil","Crude rises"\n')
    assert list(zip(*read_table(ag_news))) == [("Short-sellers, back", "3"), ("Intel, AMD race", "4"), ("Crude rises", "3")]
    # Two columns without a header: a first text that holds "review" is a text, not a header.
    two = write_csv(tmp_path / "two.csv", [("The review was fine", "pos"), ("bad", "neg"), ("good", "pos")], header=None)
    assert read_table(two).items[0] == "The review was fine"


def test_one_column_of_a_table_without_labels(tmp_path):
    from tfxfer.data.names import PATH_COLUMNS
    from tfxfer.data.records import read_values

    wide = tmp_path / "unlabeled.csv"
    wide.write_text('id,Review Text,date\n1,"Fits well,\nsoft",2024\n2,Too small,2024\n3,,2024\n')
    assert read_values(wide) == read_values(wide, "review text") == ["Fits well,\nsoft", "Too small"]  # quoting kept
    wide.write_text("id,Copy,date\n1,Fits well,2024\n")
    with pytest.raises(DataError, match=r"has no column named text, sentence, review\.\.\. .*--input-column"):
        read_values(wide)
    assert read_values(wide, "copy") == ["Fits well"]
    ids = tmp_path / "ids.csv"  # two columns, no labels: a header word is enough
    ids.write_text("review_id,Review Text\nU1,Great\nU2,Bad\n")
    assert read_values(ids) == ["Great", "Bad"]
    texts = tmp_path / "texts.csv"
    texts.write_text("review,stars\nGreat,5\nBad,1\n")
    assert read_values(texts) == read_values(texts, "Review Text") == ["Great", "Bad"]  # missing name: detected
    single = tmp_path / "single.csv"
    single.write_text("just a text\nanother one\n")
    assert read_values(single) == ["just a text", "another one"]
    paths = tmp_path / "paths.csv"
    paths.write_text("a.jpg,ants\nb.jpg,bees\n")
    assert read_values(paths, None, PATH_COLUMNS, first_by_default=True) == ["a.jpg", "b.jpg"]


def test_readers_raise_only_their_own_errors_on_garbage(tmp_path, monkeypatch):
    # Users see TfxferErrors as one-line messages; anything else is a traceback. Fuzzing found two.
    import json

    from tfxfer.data.image_files import load_image_list
    from tfxfer.data.records import read_values
    from tfxfer.data.text import TextCorpus
    from tfxfer.data.unlabeled import load_unlabeled
    from tfxfer.errors import TfxferError

    monkeypatch.chdir(tmp_path)
    rng = random.Random(0)
    pieces = ['"', ",", "\t", "\n", "\r\n", "text", "label", "Review Text", "path", "pos", "a.jpg", "é", "\x00",
              "{", "}", "[", ":", "null", "1.0", ";", "\u2028", "\ufeff", "https://x/a.jpg", "x" * 300]
    for i in range(300):
        suffix = rng.choice([".csv", ".tsv", ".jsonl", ".json", ".txt", ".xlsx", ".parquet"])
        body = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 40)))
        if suffix in (".jsonl", ".json") and rng.random() < 0.5:
            records = [{rng.choice(["text", "label", "path", "x"]): rng.choice(["a", 1, 1.5, None, [1], {}, True, ""])
                        for _ in range(rng.randint(0, 3))} for _ in range(rng.randint(0, 4))]
            body = json.dumps(records) if suffix == ".json" else "\n".join(map(json.dumps, records))
        path = Path(f"f{i}{suffix}")
        path.write_text(body, encoding="utf-8")
        for read in (lambda: load_labeled_text(path, skip_bad_rows=True), lambda: list(TextCorpus([path])),
                     lambda: read_values(path), lambda: load_image_list(path, skip_bad_rows=True),
                     lambda: load_unlabeled(path, True, 10)):
            try:
                read()
            except TfxferError:
                pass


def test_classes_as_columns_of_marks_are_read_one_label_per_row(tmp_path):
    from tfxfer.data.image_files import load_image_list

    # Roboflow's _classes.csv for photos: a column per class, one 1 per row (and its spaced header names).
    for name in ("a.jpg", "b.jpg", "c.jpg", "d.jpg"):
        (tmp_path / name).write_bytes(b"\xff\xd8")
    (tmp_path / "_classes.csv").write_text("filename, ants, bees\na.jpg,1,0\nb.jpg,0,1\nc.jpg,0,0\nd.jpg,1,1\n")
    data = load_image_list(tmp_path / "_classes.csv", skip_bad_rows=True)
    assert data.items == [str(tmp_path / "a.jpg"), str(tmp_path / "b.jpg")] and data.labels == ["ants", "bees"]
    assert data.skipped == [{"line": 4, "reason": "no class marked"},
                            {"line": 5, "reason": "2 classes marked (ants, bees): one label per example"}]
    assert data.notes == ["classes read from its columns of 0/1 marks, one per class (ants, bees)"]
    # Texts too, the input column named when its name is not a usual one; 1.0 and TRUE are marks.
    (tmp_path / "marks.csv").write_text("msg,joy,anger,fear\nyay,1.0,0.0,0\ngrr,0,TRUE,false\neek,0,0,1\n")
    data = read_table(tmp_path / "marks.csv", columns=("msg", None)).check(skip_bad_rows=False)
    assert list(zip(*data)) == [("yay", "joy"), ("grr", "anger"), ("eek", "fear")]
    with pytest.raises(DataError, match=r"its columns 'joy', 'anger', 'fear' look like 0/1 marks of classes; name "
                                        r"its input column: --input-column 'msg'"):
        read_table(tmp_path / "marks.csv")
    # Any other value in those columns: not marks, and the usual error.
    (tmp_path / "scores.csv").write_text("text,joy,anger\nyay,0.9,0.1\ngrr,0.2,0.8\n")
    with pytest.raises(DataError, match="no column is named as the labels are"):
        read_table(tmp_path / "scores.csv")


def test_labeled_text_formats(tmp_path):
    (tmp_path / "a.csv").write_text('label,text\npos,"great, really"\nneg,bad\n')
    assert tuple(read_table(tmp_path / "a.csv")) == (["great, really", "bad"], ["pos", "neg"])
    (tmp_path / "c.txt").write_text("__label__pos loved it\n__label__neg hated it\n")
    assert tuple(load_labeled_text(tmp_path / "c.txt")) == (["loved it", "hated it"], ["pos", "neg"])
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "spam.txt").write_text("buy now\nfree money\n")
    (tmp_path / "d" / "ham.txt").write_text("see you at lunch\n")
    assert tuple(load_labeled_text(tmp_path / "d")) == (["see you at lunch", "buy now", "free money"],
                                                        ["ham", "spam", "spam"])
    with pytest.raises(DataError, match="not found"):
        load_labeled_text(tmp_path / "missing.csv")


@needs_shared_data
def test_nltk_corpora_with_labels():
    texts, labels = load_labeled_text("nltk:sentence_polarity")  # categorized
    assert len(texts) == 10662 and sorted(set(labels)) == ["neg", "pos"]
    texts, labels = load_labeled_text("nltk:nps_chat")  # posts by dialogue act
    assert len(texts) == 10567 and len(set(labels)) == 15 and labels.count("Statement") == 3185
    assert (texts[1], labels[1]) == (":P", "Emotion")
    # pros_cons's 8 empty sentences are no examples: left out, and said so.
    data = load_labeled_text("nltk:pros_cons")
    assert (data.rows, len(data.items)) == (45875, 45867) and all(t.strip() for t in data.items)
    assert data.notes == ["8 empty texts of the corpus left out."] and data.labels.count("Pros") == 22936
    texts, labels = load_labeled_text("nltk:names")  # a word list in two files
    assert (len(texts), labels.count("female"), labels.count("male")) == (7944, 5001, 2943)
    assert (texts[0], labels[0]) == ("Abagael", "female")
    # Aspect-scored review sentences, by the sign of their scores ("picture[+2]"); it read as unlabeled.
    texts, labels = load_labeled_text("nltk:product_reviews_1")
    assert (len(texts), labels.count("pos"), labels.count("neg")) == (1719, 1081, 638)  # one empty left out
    with pytest.raises(DataError, match="no labels tfxfer can read.*CSV with text and label columns"):
        load_labeled_text("nltk:webtext")  # plain text by source: a label the user should choose
