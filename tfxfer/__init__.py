"""tfxfer: transfer learning for small labeled data, in TensorFlow and Keras 3."""

__version__ = "0.1.0"

__all__ = ["TextCorpus", "WordVectors", "pretrain_text", "evaluate_embeddings", "__version__"]


def __getattr__(name):
    # Lazy: `import tfxfer` and `tfxfer --help` should not pay for importing TensorFlow.
    if name == "pretrain_text":
        from tfxfer.text.pretrain import pretrain_text

        return pretrain_text
    if name == "WordVectors":
        from tfxfer.text.vectors import WordVectors

        return WordVectors
    if name == "TextCorpus":
        from tfxfer.data.text import TextCorpus

        return TextCorpus
    if name == "evaluate_embeddings":
        from tfxfer.text.evaluate import evaluate_embeddings

        return evaluate_embeddings
    raise AttributeError(f"module 'tfxfer' has no attribute {name!r}")
