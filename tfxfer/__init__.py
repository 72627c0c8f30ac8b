"""tfxfer: transfer learning for small labeled data, in TensorFlow and Keras 3."""

__version__ = "0.1.0"

__all__ = [
    "ExportedModel",
    "FeatureLayer",
    "FittedHead",
    "HeadClassifier",
    "TextCorpus",
    "WordVectors",
    "cache_usage",
    "clear_cache",
    "config",
    "evaluate_embeddings",
    "fit_head",
    "inspect_labeled",
    "load_features",
    "pretrain_text",
    "__version__",
]

_LAZY = {
    "pretrain_text": "tfxfer.text.pretrain",
    "WordVectors": "tfxfer.text.vectors",
    "TextCorpus": "tfxfer.data.text",
    "evaluate_embeddings": "tfxfer.text.evaluate",
    "load_features": "tfxfer.features.load",
    "FeatureLayer": "tfxfer.features.layer",
    "fit_head": "tfxfer.fitting",
    "inspect_labeled": "tfxfer.data.inspect",
    "FittedHead": "tfxfer.fitted_head",
    "ExportedModel": "tfxfer.export.predict",
    "HeadClassifier": "tfxfer.head.classifier",
    "cache_usage": "tfxfer.cache_dir",
    "clear_cache": "tfxfer.cache_dir",
}


def __dir__():
    # What tab completion offers: the lazy names too, not only those imported so far.
    return sorted(set(globals()) | set(__all__))


def __getattr__(name):
    # Lazy: `import tfxfer` and `tfxfer --help` should not pay for importing TensorFlow.
    if name == "config":
        import tfxfer.config as config

        return config
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'tfxfer' has no attribute {name!r}")
