"""The one tokenizer of tfxfer, in core TensorFlow string ops.

It is used to count and encode the training corpus and is traced into every
exported model, so training and serving split text identically (no skew), and
stock TF Serving runs it (no TF Text ops).

It lowercases (Unicode-aware), composes decomposed characters as Unicode NFC
does, and splits like nltk's `WordPunctTokenizer` (`\\w+|[^\\w\\s]+` under the
`regex` engine nltk uses): runs of word characters, and runs of other
non-space characters. RE2 has no `\\w` for Unicode, so the class is spelled
out with the same Unicode categories.

Composing matters because the same word arrives spelled two ways: macOS,
zips made on it and some Vietnamese keyboards write `é` as `e` and a combining
accent (NFD), most other sources as one character, and the two would be two
words to the vocabulary and the lexical columns. Core TensorFlow has no
normalisation op (TF Text's is a custom op stock TF Serving lacks), so the
composition pairs are a constant of the graph.
"""

from __future__ import annotations

import collections
import functools
import itertools
import unicodedata
from typing import Mapping

import numpy as np
import tensorflow as tf

# nltk's \w under `regex`: letters, marks, decimal digits, letter numbers,
# connector punctuation, and the zero-width (non-)joiners.
WORD_CHARS = r"\pL\pM\p{Nd}\p{Nl}\p{Pc}\x{200C}\x{200D}"
# \s under `regex`: ASCII whitespace, NEL and the Unicode separators; and the zero-width space,
# which separates words (Thai and Khmer write it between words, web pages at line breaks).
SPACE_CHARS = r"\t\n\x0B\f\r \x{85}\x{200B}\pZ"
# Invisible characters inside words, dropped: a soft hyphen (web pages, PDFs: "trans\xadfer"), a
# word joiner, a byte-order mark where files were joined. Else each would split its word in two.
INVISIBLE_CHARS = r"\x{AD}\x{2060}\x{FEFF}"
# Scripts written without spaces between words, whose clauses the tokenizer keeps whole.
UNSPACED_SCRIPTS = {
    "Chinese or Japanese": ((0x3040, 0x30FF), (0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF)),
    "Thai": ((0x0E00, 0x0E7F),),
    "Lao": ((0x0E80, 0x0EFF),),
    "Khmer": ((0x1780, 0x17FF),),
    "Myanmar": ((0x1000, 0x109F),),
}
TOKENIZER_SPEC = {
    "name": "tfxfer-wordpunct-v2",
    "lowercase": "utf-8",
    "normalization": "NFC composition of decomposed characters",
    "pattern": rf"[{WORD_CHARS}]+|[^{WORD_CHARS}{SPACE_CHARS}]+",
    "invisible": INVISIBLE_CHARS,
    "equivalent": "nltk.tokenize.WordPunctTokenizer().tokenize(unicodedata.normalize('NFC', text.lower())), "
                  "invisible characters dropped, zero-width spaces read as spaces",
}
# Hangul syllables compose by arithmetic (Unicode 3.12), not by table: 11,172 of them.
_L, _V, _T, _S = 0x1100, 0x1161, 0x11A7, 0xAC00
_L_COUNT, _V_COUNT, _T_COUNT, _S_COUNT = 19, 21, 28, 11172


@functools.cache
def _composition_pairs() -> tuple[np.ndarray, np.ndarray, str]:
    """NFC's pairs outside Hangul: sorted keys `first << 21 | second`, what each pair composes to,
    and an RE2 class of the second characters (a text without one has nothing to compose)."""
    pairs = {}
    for code in range(0x110000):
        char = chr(code)
        if not unicodedata.decomposition(char) or _S <= code < _S + _S_COUNT:
            continue
        decomposed = unicodedata.normalize("NFD", char)
        first = unicodedata.normalize("NFC", decomposed[:-1])
        # Composition exclusions (NFC never writes them) and singletons are no pair.
        if unicodedata.normalize("NFC", char) == char and len(decomposed) > 1 and len(first) == 1:
            pairs[ord(first) << 21 | ord(decomposed[-1])] = code
    keys = np.array(sorted(pairs), np.int64)
    seconds = sorted({key & 0x1FFFFF for key in pairs} | set(range(_V, _V + _V_COUNT))
                     | set(range(_T + 1, _T + _T_COUNT)))
    runs = []
    for code in seconds:
        if runs and code == runs[-1][1] + 1:
            runs[-1][1] = code
        else:
            runs.append([code, code])
    char_class = "".join(rf"\x{{{a:X}}}" + (rf"-\x{{{b:X}}}" if b > a else "") for a, b in runs)
    return keys, np.array([pairs[k] for k in keys], np.int32), char_class


def _composed(codes: tf.Tensor, following: tf.Tensor) -> tf.Tensor:
    """What each code point composes to with the one after it, or -1."""
    keys, values, _ = _composition_pairs()
    key = tf.bitwise.left_shift(tf.cast(codes, tf.int64), 21) + tf.cast(following, tf.int64)
    at = tf.minimum(tf.searchsorted(keys, key), len(keys) - 1)
    found = tf.where(tf.gather(keys, at) == key, tf.gather(values, at), -1)
    lead_vowel = (codes >= _L) & (codes < _L + _L_COUNT) & (following >= _V) & (following < _V + _V_COUNT)
    syllable = codes - _S
    syllable_tail = ((syllable >= 0) & (syllable < _S_COUNT) & (syllable % _T_COUNT == 0)
                     & (following > _T) & (following < _T + _T_COUNT))
    found = tf.where(lead_vowel, _S + ((codes - _L) * _V_COUNT + following - _V) * _T_COUNT, found)
    return tf.where(syllable_tail, codes + following - _T, found)


def _compose(texts: tf.Tensor) -> tf.Tensor:
    codes = tf.strings.unicode_decode(texts, "UTF-8")

    def compose_pairs(passes, flat, rows):
        n = tf.size(flat)
        found = _composed(flat, tf.concat([flat[1:], [0]], 0)[:n])
        pair = (found >= 0) & (rows == tf.concat([rows[1:], [-1]], 0)[:n])
        pair &= ~tf.concat([[False], pair], 0)[:n]  # a mark composed into the character before it starts no pair
        keep = ~tf.concat([[False], pair], 0)[:n]
        return passes + 1, tf.boolean_mask(tf.where(pair, found, flat), keep), tf.boolean_mask(rows, keep)

    # A character with marks of two classes (Vietnamese ệ: e, U+0323, U+0302) composes one
    # mark per pass; three passes compose every character of Unicode.
    _, flat, rows = tf.while_loop(lambda passes, *_: passes < 3, compose_pairs,
                                  (tf.constant(0), codes.flat_values, codes.value_rowids()))
    return tf.strings.unicode_encode(tf.RaggedTensor.from_value_rowids(flat, rows, codes.nrows()), "UTF-8")


@tf.function(input_signature=[tf.TensorSpec([None], tf.string)], autograph=False)
def compose(texts: tf.Tensor) -> tf.Tensor:
    """Compose decomposed characters as Unicode NFC does (`e` + U+0301 -> `é`).

    Texts in canonical order (as NFD and macOS write them) come out as NFC
    would write them; texts with nothing to compose come out byte for byte.
    One function, traced once, that every graph tokenizing text calls.

    Args:
        texts: tf.string tensor of shape `[batch]`, UTF-8.

    Returns:
        tf.string `[batch]`.
    """
    at = tf.where(tf.strings.regex_full_match(texts, f"(?s).*[{_composition_pairs()[2]}].*"))
    # Most batches have nothing to compose: they skip the decoding, which costs as much as tokenizing.
    return tf.cond(tf.size(at) > 0, lambda: tf.tensor_scatter_nd_update(texts, at, _compose(tf.gather_nd(texts, at))),
                   lambda: texts)


def tokenize(texts: tf.Tensor) -> tf.RaggedTensor:
    """Split a batch of strings into lowercase word and punctuation tokens.

    Args:
        texts: tf.string tensor of shape `[batch]`, UTF-8.

    Returns:
        tf.string `RaggedTensor` of shape `[batch, (tokens)]`.

    Example:

    >>> tokenize(tf.constant(["Don't stop!!"])).to_list()
    [[b'don', b"'", b't', b'stop', b'!!']]
    """
    texts = compose(tf.strings.lower(texts, encoding="utf-8"))
    texts = tf.strings.regex_replace(texts, f"[{INVISIBLE_CHARS}]+", "")
    # Isolate each run of word characters; what remains between them is punctuation.
    texts = tf.strings.regex_replace(texts, f"([{WORD_CHARS}]+)", r" \1 ")
    texts = tf.strings.regex_replace(texts, f"[{SPACE_CHARS}]+", " ")
    return tf.strings.split(texts)  # on the single spaces left; no empty tokens


def unspaced_script(counts: Mapping[str, float], share: float = 0.3,
                    dropped: Mapping[str, float] | None = None) -> tuple[str, float] | None:
    """The script without spaces between words (Chinese, Thai...) of at least `share` of the tokens, if any.

    Args:
        counts: Token -> count, as the corpus was tokenized.
        share: The least share of running tokens that starts in one such script.
        dropped: Token -> count standing for the tokens counting dropped
            (`encode_corpus`'s sample), counted with `counts`. Defaults to none.

    Returns:
        `(script name, share of the tokens)`, or `None`.
    """
    total = 0.0
    tally = collections.Counter()
    for token, n in itertools.chain(counts.items(), (dropped or {}).items()):
        total += n
        code = ord(token[0]) if token else 0
        for name, ranges in UNSPACED_SCRIPTS.items():
            if any(low <= code <= high for low, high in ranges):
                tally[name] += n
                break
    if not tally or not total:
        return None
    name, n = tally.most_common(1)[0]
    return (name, n / total) if n >= share * total else None
