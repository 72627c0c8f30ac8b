"""BERT-style encoders: text modules in two parts, a preprocessing model and an encoder.

TF-Hub's BERT, ALBERT, ELECTRA, MobileBERT, Talking-Heads, BERT Experts,
LaBSE, MuRIL and CMLM encoders take token ids (`input_word_ids`, `input_mask`, `input_type_ids`),
which their own preprocessing model makes from raw strings. Each encoder's page
names that model; `paired_preprocessor` knows TF-Hub's pairings (those of its
"Classify text with BERT" tutorial), so that the encoder's handle alone is a text
module, and `preprocessor=` (`--preprocessor`) names any other.
`with_preprocessor` chains the two into one function of strings, whose graph
the export holds whole: raw text in, as TF Serving and the page send it.

The encoder's `default` output is taken, as for any TF-Hub module: its
`pooled_output`, what the module's authors and the tutorial use per sentence.

TF-Hub's preprocessing models pack every text into 128 tokens, padding
included, and an encoder's cost grows with them: a BERT-base-sized encoder
(random weights) took 109 ms a text at 128 and 27 ms at 32 on 2 cores. Where a preprocessing model
offers TF-Hub's `tokenize` and `bert_pack_inputs`, each batch is packed only as
long as its longest text needs (`PACKING_LENGTHS`, at most the model's own
length): the encoder masks padding out, so every text's features are those of
the full packing, and a batch of short texts costs a fraction of it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence

import tensorflow as tf

from tfxfer import config
from tfxfer.errors import ConfigError, DataError

logger = logging.getLogger(__name__)

# Input names of encoders that take token ids (TF-Hub's and Hugging Face's), not text.
TOKEN_ID_INPUTS = frozenset({"input_word_ids", "input_ids", "token_ids", "input_mask", "input_type_ids"})

_TFHUB = "https://tfhub.dev/tensorflow/"
# Patterns of an encoder's handle or folder (TF-Hub's and Kaggle's names, lowercase, `_` read as `-`) and the
# preprocessing model TF-Hub pairs with it, first match wins: cased before uncased, multilingual before English.
PAIRINGS = (
    (r"labse|cmlm.multilingual", "https://tfhub.dev/google/universal-sentence-encoder-cmlm/multilingual-preprocess/2"),
    (r"muril", "https://tfhub.dev/google/MuRIL_preprocess/1"),
    (r"multi-cased", _TFHUB + "bert_multi_cased_preprocess/3"),
    (r"albert", _TFHUB + "albert_en_preprocess/3"),
    (r"(?<![a-z])cased", _TFHUB + "bert_en_cased_preprocess/3"),  # not "uncased"
    (r"uncased|electra|experts.bert|talkheads|cmlm.en", _TFHUB + "bert_en_uncased_preprocess/3"),
)


# Packing lengths a batch is rounded up to (and the preprocessing model's own, the longest): few shapes,
# for XLA and TPU serving to compile once each.
PACKING_LENGTHS = (16, 32, 64)


def token_id_inputs(obj) -> list[str]:
    """The inputs (sorted) of a loaded SavedModel that takes token ids, `[]` for a module of raw input."""
    names = set()
    for fn in getattr(getattr(obj, "__call__", None), "concrete_functions", None) or []:
        args, kwargs = fn.structured_input_signature
        names |= {k for part in (*args, kwargs) if isinstance(part, dict) for k in part}
    if not names and "serving_default" in getattr(obj, "signatures", {}):
        names = set(obj.signatures["serving_default"].structured_input_signature[1])
    return sorted(names) if names & TOKEN_ID_INPUTS else []


def paired_preprocessor(spec: str) -> str | None:
    """The TF-Hub preprocessing model paired with the encoder `spec` names (a handle, or the folder a
    download went to), or `None` where the name says nothing.

    Example: `.../small_bert/bert_en_uncased_L-4_H-256_A-4/1` and Kaggle's
    `.../bert/tensorFlow2/en-uncased-l-12-h-768-a-12/4` give `.../bert_en_uncased_preprocess/3`.
    """
    name = str(spec).lower().replace("_", "-")
    return next((handle for pattern, handle in PAIRINGS if re.search(pattern, name)), None)


def makes_token_ids(outputs) -> bool:
    """Whether a module's outputs are token ids (a preprocessing model given as the feature module)."""
    return isinstance(outputs, dict) and bool(set(outputs) & TOKEN_ID_INPUTS)


def missing_preprocessor(spec: str, inputs: list[str]) -> DataError:
    """The error for an encoder that takes token ids and whose preprocessing model is not known."""
    return DataError(
        f"{str(spec)!r} takes token ids ({', '.join(inputs)}), as BERT-style encoders do, made by their own "
        "preprocessing model, which its name does not tell. Pass that model too: --preprocessor HANDLE "
        "(preprocessor=), e.g. https://tfhub.dev/tensorflow/bert_en_uncased_preprocess/3, as the encoder's "
        "page names it. Or pass a module that takes raw text (a sentence encoder such as TF-Hub's "
        "universal-sentence-encoder, word vectors, or a pretrain-text module).")


def preprocessor_given_as_features(spec: str) -> DataError:
    """The error for a preprocessing model passed where the encoder goes."""
    return DataError(
        f"{str(spec)!r} is a preprocessing model: it makes token ids for a BERT-style encoder, not features. "
        f"Pass the encoder as the feature module and this as its preprocessor: --features ENCODER "
        f"--preprocessor {spec} (features=ENCODER, preprocessor=...).")


def _inference(encoder) -> Callable:
    """The encoder's call in inference mode: Keras-saved encoders take `training`, and dropout would
    make features of the same text differ."""
    call = getattr(encoder, "__call__", None)
    if not getattr(call, "concrete_functions", None):  # a signature's keywords
        return lambda inputs: encoder.signatures["serving_default"](**inputs)
    spec = getattr(call, "function_spec", None)
    args = getattr(getattr(spec, "fullargspec", None), "args", []) or []
    return (lambda inputs: call(inputs, training=False)) if "training" in args else call


def module_variables(obj) -> list:
    """A loaded module's variables: TF-Hub's `variables` attribute, else found by walking the object."""
    listed = getattr(obj, "variables", None)
    if listed is not None and not callable(listed):
        return list(listed)
    return [v for v in tf.train.TrackableView(obj).descendants() if isinstance(v, tf.Variable)]


class PreprocessedEncoder(tf.Module):
    """A preprocessing model and an encoder, saved together: strings in, the encoder's outputs out.

    Its variables are the encoder's (the preprocessing model's vocabulary is a table, not a variable):
    fine-tuning trains the encoder.
    """

    def __init__(self, preprocessor, encoder):
        super().__init__(name="preprocessed_encoder")
        self.preprocessor, self.encoder = preprocessor, encoder

    @property
    def variables(self):
        return module_variables(self.encoder)

    @property
    def trainable_variables(self):
        listed = getattr(self.encoder, "trainable_variables", None)
        return list(listed) if listed is not None else [v for v in self.variables if v.trainable]


def with_preprocessor(spec: str, encoder, preprocessor: str, preprocessor_obj, inputs: list[str]):
    """Chain a preprocessing model and an encoder into one function of strings.

    Args:
        spec: The encoder's spec, for messages.
        encoder: The loaded encoder SavedModel.
        preprocessor: The preprocessing model's spec, for messages.
        preprocessor_obj: The loaded preprocessing model.
        inputs: The encoder's token-id inputs (`token_id_inputs`).

    Returns:
        `(tokenize, encode, obj)`: `tokenize` maps strings `[batch]` to the encoder's inputs
        (a dict of int `[batch, length]`: string ops, which TPU serving runs on the host),
        `encode` those to the encoder's outputs (tensor math, which it places on the TPU), and
        `obj` (a `PreprocessedEncoder`) holds both models, to be saved with an export.

    Raises:
        DataError: The preprocessing model does not take strings, or does not make the inputs the
            encoder takes.
    """
    if not callable(preprocessor_obj):
        raise DataError(f"The preprocessing model {str(preprocessor)!r} is not callable: it has no __call__.")
    try:
        made = preprocessor_obj(tf.constant(["a"]))
    except tf.errors.OpError as e:
        first = (getattr(e, "message", None) or str(e)).strip().splitlines()[0][:200]
        raise DataError(f"The preprocessing model {str(preprocessor)!r} fails on a string: {first}") from None
    except (TypeError, ValueError):  # no function of strings [batch] among its traces
        raise DataError(f"{str(preprocessor)!r} does not take strings [batch]: it is not a preprocessing model. "
                        "Pass the one the encoder's page names with --preprocessor (preprocessor=).") from None
    lacking = sorted(set(inputs) - set(made if isinstance(made, dict) else ()))
    if lacking:
        given = sorted(made) if isinstance(made, dict) else type(made).__name__
        raise DataError(f"The preprocessing model {str(preprocessor)!r} makes {given}, but {str(spec)!r} takes "
                        f"{inputs}: it is not this encoder's. Pass the one the encoder's page names with "
                        "--preprocessor (preprocessor=).")
    def tokenize(texts):
        made = preprocessor_obj(texts)
        return {name: made[name] for name in inputs}

    return _packed(preprocessor_obj, inputs, made) or tokenize, _inference(encoder), \
        PreprocessedEncoder(preprocessor_obj, encoder)


def _packed(preprocessor_obj, inputs: list[str], made: dict) -> Callable | None:
    """`tokenize` that packs each batch as long as its longest text needs, from a preprocessing model's
    `tokenize` and `bert_pack_inputs` (TF-Hub's preprocessor API; `seq_length` a scalar tensor there); `None`
    where it has not both, or where they do not give the prefix of what its call gives on probe texts."""
    pieces_of = getattr(preprocessor_obj, "tokenize", None)
    pack = getattr(preprocessor_obj, "bert_pack_inputs", None)
    full = made[inputs[0]].shape[1]
    if pieces_of is None or pack is None or full is None:
        return None
    lengths = tf.constant(sorted({n for n in PACKING_LENGTHS if n < full} | {int(full)}), tf.int32)

    def tokenize(texts):
        pieces = pieces_of(texts)
        words = pieces.merge_dims(-2, -1) if pieces.ragged_rank > 1 else pieces
        need = tf.reduce_max(tf.concat([tf.cast(words.row_lengths(), tf.int32), [0]], 0)) + 2  # [CLS], [SEP]
        length = tf.reduce_min(tf.where(lengths >= need, lengths, lengths[-1]))
        packed = pack([pieces], seq_length=length)
        return {name: packed[name] for name in inputs}

    probes = tf.constant(["a", "the quick brown fox jumps over the lazy dog " * 40])
    try:
        short, long = tokenize(probes[:1]), tokenize(probes)
        whole = preprocessor_obj(probes)
        same = all(bool(tf.reduce_all(short[n] == whole[n][:1, :short[n].shape[1]])) and
                   bool(tf.reduce_all(long[n] == whole[n])) for n in inputs)
    except (tf.errors.OpError, TypeError, ValueError, KeyError, AttributeError):
        same = False
    if not same:
        logger.info("The preprocessing model's tokenize and bert_pack_inputs do not repeat its call: packing "
                    "every text to %d tokens.", full)
        return None
    return tokenize


def truncated_texts_note(texts: Sequence[str], obj) -> str | None:
    """A note when `config.TRUNCATED_TEXTS_SHARE` or more of the training texts (their first
    `config.UNKNOWN_WORDS_TEXTS`) hold more tokens than the preprocessing model packs: the encoder reads
    their beginning alone. `None` for other modules, and for preprocessing models without TF-Hub's
    `tokenize` (strings to word pieces `[batch, words, pieces]`, or `[batch, pieces]`)."""
    tokenize = getattr(getattr(obj, "preprocessor", None), "tokenize", None)
    if not isinstance(obj, PreprocessedEncoder) or tokenize is None or not texts:
        return None
    texts = list(texts[:config.UNKNOWN_WORDS_TEXTS])
    try:
        length = int(obj.preprocessor(tf.constant(texts[:1]))["input_word_ids"].shape[1])
        pieces = tokenize(tf.constant(texts))
        while isinstance(pieces, tf.RaggedTensor) and pieces.ragged_rank > 1:
            pieces = pieces.merge_dims(-2, -1)
        counts = pieces.row_lengths().numpy()
    except (tf.errors.OpError, TypeError, ValueError, KeyError, AttributeError):
        return None  # a tokenizer of another shape: no note rather than a failed fit
    room = length - 2  # [CLS] and [SEP]
    long = int((counts > room).sum())
    if long / len(texts) < config.TRUNCATED_TEXTS_SHARE:
        return None
    return (f"{long:,} of {len(texts):,} training texts ({long / len(texts):.0%}) are longer than the {room} tokens "
            f"the preprocessing model packs for the encoder (with [CLS] and [SEP], {length}): it reads their "
            f"beginning alone (the longest holds {int(counts.max()):,}).")


def unused_preprocessor(spec: str, preprocessor: str) -> ConfigError:
    """The error for a preprocessor given with a module that takes raw input."""
    return ConfigError(f"`preprocessor` is for encoders that take token ids; {str(spec)!r} takes raw input "
                       f"itself. Drop --preprocessor (preprocessor=). Received: preprocessor={preprocessor!r}.")
