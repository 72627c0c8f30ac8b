"""Ops a SavedModel needs that TensorFlow does not have built in.

TF-Hub's multilingual sentence encoders and BERT preprocessing models
tokenize with TensorFlow Text's ops (`SentencepieceOp`,
`TFText>WhitespaceTokenizeWithOffsetsV2`, ...), which exist only once
`tensorflow_text` is imported: `hub.load` users import it by hand, and without
it loading fails with "Op type not registered". TF Serving has them built in.
tfxfer imports it when a SavedModel needs an op TensorFlow lacks, and
remembers which SavedModels needed it, so that what is exported from one
says so.
"""

from __future__ import annotations

import logging
import re
import sys
from pathlib import Path

from tfxfer.errors import DataError

logger = logging.getLogger(__name__)

TEXT_OPS = "tensorflow_text"
_OP_NOT_REGISTERED = re.compile(r"Op type not registered '([^']+)'")
_needed_by: set[str] = set()


def missing_op(error: Exception | str) -> str | None:
    """The op a SavedModel's loading `error` says TensorFlow lacks, if it says that."""
    found = _OP_NOT_REGISTERED.search(str(error))
    return found.group(1) if found else None


def register_ops_for(path: str | Path, op: str) -> bool:
    """Import TensorFlow Text, whose ops register on import, for `op` of the SavedModel at `path`.

    Returns:
        Whether it was imported now (load again); `False` if it was already, so it lacks `op` too.

    Raises:
        DataError: TensorFlow Text is not installed, or does not load (built for another TensorFlow).
    """
    if sys.modules.get(TEXT_OPS) is not None:
        return False
    import tensorflow as tf

    try:
        import tensorflow_text  # noqa: F401 - registers its ops
    except Exception as e:  # noqa: BLE001 - missing, or built for another TensorFlow (a NotFoundError)
        missing = isinstance(e, ModuleNotFoundError) and e.name == TEXT_OPS
        why = "is not installed" if missing else f"does not load ({str(e).strip().splitlines()[0][:200]})"
        minor = ".".join(tf.__version__.split(".")[:2])
        raise DataError(
            f"The SavedModel at {str(path)!r} uses the op {op!r}, which TensorFlow does not have built in: the "
            f"tokenizers of TF-Hub's text modules take theirs from TensorFlow Text, which {why}. pip install "
            f"'tensorflow-text=={minor}.*' (the version of your TensorFlow, {tf.__version__}), then run again."
        ) from None
    logger.info("Imported TensorFlow Text for the op %r of %s.", op, path)
    _needed_by.add(str(Path(path).resolve()))
    return True


def op_library(path: str | Path) -> str | None:
    """`"tensorflow_text"` if the SavedModel at `path` needed it imported to load, else `None`."""
    return TEXT_OPS if str(Path(path).resolve()) in _needed_by else None


def op_library_note(library: str) -> str:
    """What a user of a module (or an export of it) that needs `library`'s ops should know."""
    return (f"the module uses TensorFlow Text's ops (its tokenizer); tfxfer imported {library} to load it. "
            f"TF Serving has them built in; elsewhere, import {library} before loading the module or an export "
            "of it (the export's README shows how).")
