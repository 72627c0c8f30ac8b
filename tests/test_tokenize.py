import unicodedata

import tensorflow as tf
from nltk.tokenize import WordPunctTokenizer

from tests.conftest import needs_shared_data
from tfxfer.text.tokenize import compose, tokenize
from tfxfer.text.vocab import text_words

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


MANY_SCRIPTS = [
    "Héllo São Paulo — naïve CAFÉ ÀÉÎ ΑΒΓ straße",
    "Tiếng Việt có dấu: người, được, những",  # two marks on one letter: ệ is e, U+0323, U+0302
    "한국어 문장입니다 각 힣",  # Hangul, which macOS writes as separate jamo
    "ἄλφα ᾂ ῷ ガギグ パピプ",
    "नक़ल हिन्दी ऩ তামিল கொ",  # क़ is one of NFC's exclusions: it stays two characters
]


def test_text_words_split_as_nltk_does():
    # vocab.text_words holds WordPunctTokenizer's pattern instead of importing all of nltk with it.
    texts = ["Don't stop!! It's 3.14, ok?", "tab\there\u00a0nbsp\u2003em-space\nnew line", "x_y x² ½ ...!?",
             "", "   ", *MANY_SCRIPTS]
    assert [text_words(t) for t in texts] == [NLTK.tokenize(unicodedata.normalize("NFC", t.lower())) for t in texts]
    assert text_words("Ice cream") == ["ice", "cream"] and text_words("Don't") == ["don", "'", "t"]


def test_decomposed_text_tokenizes_as_composed():
    """macOS (and zips made on it) write `é` as `e` and a combining accent: one word either way."""
    decomposed = [unicodedata.normalize("NFD", t) for t in MANY_SCRIPTS]
    assert decomposed != MANY_SCRIPTS
    assert _ours(decomposed) == _ours(MANY_SCRIPTS) == [NLTK.tokenize(t.lower()) for t in MANY_SCRIPTS]


def test_composition_matches_nfc_on_every_character_and_leaves_other_bytes_alone():
    chars = [chr(c) for c in range(0x110000) if not 0xD800 <= c < 0xE000
             and unicodedata.normalize("NFD", chr(c)) != unicodedata.normalize("NFC", chr(c)) == chr(c)]
    assert len(chars) > 12000  # 11,172 of them Hangul syllables
    composed = compose(tf.constant([unicodedata.normalize("NFD", c) for c in chars])).numpy()
    assert [c.decode("utf-8") for c in composed] == chars
    untouched = [t.encode() for t in MANY_SCRIPTS] + [b"plain", b"", "e\u0301\u0301".encode(), b"\xff bad utf-8"]
    assert compose(tf.constant(untouched)).numpy().tolist()[:-2] == untouched[:-2]
    assert compose(tf.constant(untouched)).numpy().tolist()[-2:] == ["é\u0301".encode(), b"\xff bad utf-8"]
    assert compose(tf.constant([], tf.string)).numpy().tolist() == []


def test_invisible_characters_of_web_pages_do_not_split_words():
    # A soft hyphen (&shy;), a word joiner and a byte-order mark of joined files sit inside words; a
    # zero-width space stands between them, as in Thai.
    texts = ["a trans\u00adfer fee\u200bnext", "\ufeffThe wo\u2060rd", "ฉัน\u200bชอบ"]
    assert _ours(texts) == [["a", "transfer", "fee", "next"], ["the", "word"], ["ฉัน", "ชอบ"]]


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
