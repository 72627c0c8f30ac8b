"""The one tokenizer of tfxfer, in core TensorFlow string ops.

It is used to count and encode the training corpus and is traced into every
exported model, so training and serving split text identically (no skew), and
stock TF Serving runs it (no TF Text ops).

It lowercases (Unicode-aware) and splits like nltk's `WordPunctTokenizer`
(`\\w+|[^\\w\\s]+` under the `regex` engine nltk uses): runs of word characters,
and runs of other non-space characters. RE2 has no `\\w` for Unicode, so the
class is spelled out with the same Unicode categories.
"""

from __future__ import annotations

import collections
from typing import Mapping

import tensorflow as tf

# nltk's \w under `regex`: letters, marks, decimal digits, letter numbers,
# connector punctuation, and the zero-width (non-)joiners.
WORD_CHARS = r"\pL\pM\p{Nd}\p{Nl}\p{Pc}\x{200C}\x{200D}"
# \s under `regex`: ASCII whitespace, NEL and the Unicode separators.
SPACE_CHARS = r"\t\n\x0B\f\r \x{85}\pZ"
# Scripts written without spaces between words, whose clauses the tokenizer keeps whole.
UNSPACED_SCRIPTS = {
    "Chinese or Japanese": ((0x3040, 0x30FF), (0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF)),
    "Thai": ((0x0E00, 0x0E7F),),
    "Lao": ((0x0E80, 0x0EFF),),
    "Khmer": ((0x1780, 0x17FF),),
    "Myanmar": ((0x1000, 0x109F),),
}
TOKENIZER_SPEC = {
    "name": "tfxfer-wordpunct-v1",
    "lowercase": "utf-8",
    "pattern": rf"[{WORD_CHARS}]+|[^{WORD_CHARS}{SPACE_CHARS}]+",
    "equivalent": "nltk.tokenize.WordPunctTokenizer().tokenize(text.lower())",
}


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
    texts = tf.strings.lower(texts, encoding="utf-8")
    # Isolate each run of word characters; what remains between them is punctuation.
    texts = tf.strings.regex_replace(texts, f"([{WORD_CHARS}]+)", r" \1 ")
    texts = tf.strings.regex_replace(texts, f"[{SPACE_CHARS}]+", " ")
    return tf.strings.split(texts)  # on the single spaces left; no empty tokens


def unspaced_script(counts: Mapping[str, int], share: float = 0.3) -> tuple[str, float] | None:
    """The script without spaces between words (Chinese, Thai...) of at least `share` of the tokens, if any.

    Args:
        counts: Token -> count, as the corpus was tokenized.
        share: The least share of running tokens that starts in one such script.

    Returns:
        `(script name, share of the tokens)`, or `None`.
    """
    total = sum(counts.values())
    tally = collections.Counter()
    for token, n in counts.items():
        code = ord(token[0]) if token else 0
        for name, ranges in UNSPACED_SCRIPTS.items():
            if any(low <= code <= high for low, high in ranges):
                tally[name] += n
                break
    if not tally or not total:
        return None
    name, n = tally.most_common(1)[0]
    return (name, n / total) if n >= share * total else None
