"""LabeledData's own checks, whatever the reader: labels no classifier should take silently, and how
skipped rows are told."""

import functools
import unicodedata

import pytest

from tests.conftest import write_csv
from tfxfer.data.labeled import load_labeled_text
from tfxfer.data.labeled_data import skipped_lines
from tfxfer.data.table import read_table
from tfxfer.errors import DataError


def test_skipped_rows_are_listed_by_reason_within_bounds():
    skipped = ([{"line": n, "reason": "empty label"} for n in range(2, 12)] + [{"line": 12, "reason": "empty item"}]
               + [{"line": 20 + i, "reason": f"reason {i}"} for i in range(6)])
    assert skipped_lines(skipped) == ["lines 2, 3, 4, 5, 6 and 5 more: empty label", "line 12: empty item",
                                      "line 20: reason 0", "line 21: reason 1", "line 22: reason 2",
                                      "and 3 more rows for other reasons"]
    merged = [{"line": "a.csv:3", "reason": "empty item"}, {"line": "b.csv:9", "reason": "empty item"}]
    assert skipped_lines(merged, shown=1) == ["a.csv:3 and 1 more: empty item"]


def test_labels_spelled_two_ways_are_noted(tmp_path):
    path = write_csv(tmp_path / "merged.csv", [("fine", "Positive"), ("good", "positive"), ("bad", "negative"),
                                               ("awful", "negative"), ("great", "Positive")])
    notes = read_table(path).check_trainable().notes
    assert notes == ["labels 'Positive' and 'positive' differ only in case, spacing or number format: they are "
                     "different classes. Spell each class one way if they mean the same."]
    numbers = write_csv(tmp_path / "pandas.csv", [("fine", "1.0"), ("good", "1"), ("bad", "0"), ("awful", "0.0")])
    assert "'1' and '1.0'" in read_table(numbers).check_trainable().notes[0]  # pandas writes 1.0 where a NaN was
    # A spreadsheet's marks for "not labeled yet" (Excel's #N/A, pandas' nan) are classes, said so with the fix;
    # "None" is a common class of its own ("none of the above") and is not named.
    marked = write_csv(tmp_path / "marked.csv", [("fine", "pos"), ("bad", "neg"), ("hmm", "#N/A"), ("eh", "nan"),
                                                 ("meh", "#N/A"), ("no topic", "None"), ("nothing", "None")])
    assert read_table(marked).check_trainable().notes == [
        "labels '#N/A' (2), 'nan' (1) look like marks for a missing label, but are classes here. If they mean "
        '"not labeled", empty those cells and pass --skip-bad-rows to leave the rows out.']


def test_text_and_labels_typed_on_a_mac_are_the_ones_typed_elsewhere(tmp_path):
    """macOS writes `é` decomposed (NFD): the class `Café` from two machines is one class, and a text written
    both ways repeats itself, as the tokenizer reads them."""
    from tfxfer.data.inspect import inspect_labeled

    nfd = functools.partial(unicodedata.normalize, "NFD")
    path = write_csv(tmp_path / "merged.csv", [("un café noir", "Café"), (nfd("un café noir"), nfd("Café")),
                                               ("un thé vert", "Thé"), ("du thé", nfd("Thé"))])
    assert set(read_table(path).check(skip_bad_rows=False).labels) == {"Café", "Thé"}
    found = inspect_labeled(path)
    assert found["classes"] == [["Café", 2], ["Thé", 2]] and found["repeated"] == 1 and not found["conflicts"]


def test_labels_that_hold_several_labels_are_named_with_the_fix(tmp_path):
    rows = [("goal", "sports"), ("vote", "politics"), ("chip", "tech"), ("vote on the team", "sports;politics"),
            ("app vote", "politics;tech"), ("a yes", "Yes, definitely"), ("a no", "No, not at all")] * 2
    notes = read_table(write_csv(tmp_path / "tags.csv", rows)).check_trainable().notes
    assert len(notes) == 1 and notes[0].startswith("labels such as 'sports;politics', 'politics;tech' hold several ")
    assert "train one yes/no model per label" in notes[0]  # and answers with commas are not taken for lists
    # Many combinations, most seen once: refused, saying why, not as a column of ids.
    tags = ["news", "tech", "sports", "art", "food", "travel", "music"]
    many = [(f"text {i}", "|".join(tags[j] for j in range(7) if i >> j & 1)) for i in range(1, 100)]
    with pytest.raises(DataError, match=r"labels for 99 examples.* Labels such as '.*\|.*' hold several labels each"):
        read_table(write_csv(tmp_path / "many.csv", many)).check_trainable()


def test_labels_on_a_continuous_scale_are_named_with_the_fix(tmp_path):
    # Ratings averaged over reviewers, a price: each value a class of its own, which the user should know.
    rows = [(f"text {i}", f"{1 + (i % 41) / 10:.1f}") for i in range(41 * 3)]
    assert read_table(write_csv(tmp_path / "scores.csv", rows)).check_trainable().notes == [
        "the labels are 41 numbers from 1.0 to 5.0, a measurement rather than classes: each value is a class of "
        "its own here, learned from its few examples alone, and near values count as wrong as far ones. Bin them "
        "into classes first (e.g. low / medium / high)."]
    # Half stars (9 values) and whole-number codes (20 Newsgroups' 0 - 19) are classes.
    for values in ([f"{1 + i / 2:g}" for i in range(9)], [str(i) for i in range(20)]):
        rows = [(f"text {i}", values[i % len(values)]) for i in range(len(values) * 3)]
        assert not read_table(write_csv(tmp_path / "codes.csv", rows)).check_trainable().notes


def test_texts_holding_html_tags_get_a_note(tmp_path):
    # IMDB's reviews hold <br />: read as words and punctuation, which the user should know.
    path = tmp_path / "reviews.tsv"
    path.write_text("text\tlabel\n" + "a fine film<br /><br />loved it\tpos\n" * 2 + "a <b>bad</b> one\tneg\n"
                    + "".join(f"plain text {i} a < b > c, I <3 it\tneg\n" for i in range(20)))
    data = load_labeled_text(path).check_trainable()
    assert [n for n in data.notes if "HTML" in n] == [
        "3 of 23 texts hold HTML tags (such as '<br />'): they are read as words and punctuation, in training and "
        "in serving alike. If the texts the model will see have none, strip them first (e.g. sed -E 's/<[^>]+>/ /g')."]
    path.write_text("text\tlabel\n" + "".join(f"plain text {i} a < b > c, I <3 it\tneg\n" for i in range(20))
                    + "a <br> here\tpos\n" * 2)
    assert not [n for n in load_labeled_text(path).check_trainable().notes if "HTML" in n]  # 2 of 22: no note
