import tensorflow as tf
from nltk.tokenize import WordPunctTokenizer

from tests.conftest import needs_shared_data
from tfxfer.text.tokenize import tokenize

NLTK = WordPunctTokenizer()


def _ours(texts):
    return [[t.decode("utf-8") for t in row] for row in tokenize(tf.constant(texts)).to_list()]


def test_examples_match_nltk_including_unicode():
    texts = [
        "Don't stop!! It's 3.14, ok?",
        "Héllo São Paulo — naïve CAFÉ… ÀÉÎ ΑΒΓ straße",
        "superscript x² and ½ are symbols; x_y stays whole",
        "tab\there\u00a0nbsp\u2003em-space",
        "",
        "   ",
    ]
    assert _ours(texts) == [NLTK.tokenize(t.lower()) for t in texts]


def test_empty_and_whitespace_give_no_tokens():
    assert _ours(["", " \t "]) == [[], []]


@needs_shared_data
def test_agrees_with_nltk_on_sentence_polarity():
    from nltk.corpus import sentence_polarity

    lines = [line for f in sentence_polarity.fileids() for line in sentence_polarity.raw(f).splitlines()]
    assert len(lines) == 10662
    ours = _ours(lines)
    mismatches = [(l, o) for l, o in zip(lines, ours) if o != NLTK.tokenize(l.lower())]
    assert mismatches == []


def test_scripts_without_spaces_between_words_are_recognised():
    from collections import Counter

    from tfxfer.text.tokenize import unspaced_script

    def counts(text):
        return Counter(t.decode() for t in tokenize(tf.constant([text])).to_list()[0])

    chinese = counts("我喜欢这部电影，非常好看。他们明天去北京，我们也去。")
    assert unspaced_script(chinese) == ("Chinese or Japanese", 0.5)  # a clause per token, then its punctuation
    assert unspaced_script(counts("ฉันชอบหนังเรื่องนี้มาก และอยากดูอีก"))[0] == "Thai"
    assert unspaced_script(counts("나는 이 영화를 정말 좋아한다 그리고 또 보고 싶다")) is None  # Korean has spaces
    assert unspaced_script(counts("A fine film, with 東京 in one scene and Paris in another.")) is None
