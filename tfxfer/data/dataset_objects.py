"""Dataset objects users hold in Python, read as tables are: TensorFlow's `tf.data.Dataset` (Keras's
`text_dataset_from_directory` among them) and Hugging Face's `datasets.Dataset`. Both are duck-typed:
neither `datasets` nor, here, TensorFlow is imported."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tfxfer.data.names import LABEL_COLUMNS, Columns, find_column
from tfxfer.errors import DataError


def is_tf_dataset(source) -> bool:
    """Whether `source` is a `tf.data.Dataset` (duck-typed: this module does not import TensorFlow)."""
    return hasattr(source, "element_spec") and hasattr(source, "as_numpy_iterator")


def tf_dataset_columns(dataset, columns: Columns, item_columns: Sequence[str]) -> tuple[list, list | None]:
    """The inputs and labels (`None` if it has none) a `tf.data.Dataset` yields, batched or not: `(input,
    label)` pairs (a third part, sample weights, is ignored), dicts found by key as a table's columns are,
    or inputs alone. Integer labels are named by the dataset's `class_names` where Keras's
    `text_dataset_from_directory` set them; one-hot labels (its `label_mode="categorical"`) by their top.

    Raises:
        DataError: Images already decoded (tfxfer decodes files itself, as its export does), or
            inputs that are neither strings nor named by a key.
    """
    spec = dataset.element_spec
    if isinstance(spec, dict):
        keys = [str(k) for k in spec]
        named_item, named_label = columns or (None, None)
        item = find_column(keys, item_columns, named=named_item)
        label = find_column(keys, LABEL_COLUMNS, named=named_label, codes=True)
        if item is None:
            raise DataError(f"No input among the tf.data.Dataset's keys ({', '.join(map(repr, keys[:12]))}). "
                            "Name it with columns=(INPUT, LABEL).")
        item, label = keys[item], (keys[label] if label is not None and label != item else None)
        pick = (lambda e: (e[item], e[label])) if label is not None else (lambda e: (e[item], None))
        inputs, has_labels = spec[item], label is not None
    elif isinstance(spec, tuple):
        pick, inputs, has_labels = (lambda e: (e[0], e[1] if len(e) > 1 else None)), spec[0], len(spec) > 1
    else:
        pick, inputs, has_labels = (lambda e: (e, None)), spec, False
    if getattr(inputs, "dtype", None) is None or inputs.dtype.name != "string":
        shape = getattr(inputs, "shape", None)
        if shape is not None and shape.rank in (3, 4) and shape[-1] in (1, 3, 4):
            raise DataError("The tf.data.Dataset yields decoded images; tfxfer reads image files, and decodes and "
                            "resizes them itself as its export does at serving time. Pass the folder the "
                            "dataset was made from (image_dataset_from_directory's directory) or a list of paths.")
        raise DataError(f"The tf.data.Dataset yields {inputs!r} as inputs; texts (tf.string) or image paths "
                        "are wanted.")
    items, labels = [], []
    for element in dataset.as_numpy_iterator():
        x, y = pick(element)
        x = np.asarray(x)
        items += [v.decode("utf-8", "replace") for v in np.atleast_1d(x).ravel()]
        if y is not None:
            y = np.asarray(y)
            if y.ndim == x.ndim + 1:  # one-hot, or label_mode="binary"'s [batch, 1]
                y = y.argmax(-1) if y.shape[-1] > 1 else y[..., 0]
            labels += [v.decode("utf-8", "replace") if isinstance(v, bytes) else v for v in np.atleast_1d(y).ravel()]
    if labels and hasattr(dataset, "class_names") and all(isinstance(v, (int, np.integer, float, np.floating))
                                                            for v in labels):
        names = list(dataset.class_names)
        labels = [names[int(v)] for v in labels]
    else:
        labels = [v.item() if hasattr(v, "item") else v for v in labels]
    return items, (labels if has_labels else None)


def is_hf_dataset(source) -> bool:
    """Whether `source` is a Hugging Face `datasets.Dataset` (or its `DatasetDict` of splits)."""
    return hasattr(source, "column_names") and hasattr(source, "num_rows") and not isinstance(source, type)


def dataset_name(source) -> str | None:
    """What the errors and reports call a dataset object; `None` for anything else."""
    return "tf.data.Dataset" if is_tf_dataset(source) else "Hugging Face Dataset" if is_hf_dataset(source) else None


def dataset_items(source, column: str | None, item_columns: Sequence[str]) -> list | None:
    """The inputs of a dataset object (its `column`, else the one named as inputs are), without labels;
    `None` for anything else."""
    if is_tf_dataset(source):
        return tf_dataset_columns(source, (column, None), item_columns)[0]
    if is_hf_dataset(source):
        return hf_dataset_columns(source, (column, None), item_columns, labeled=False)[0]
    return None


def hf_dataset_columns(dataset, columns: Columns, item_columns: Sequence[str],
                       labeled: bool = True) -> tuple[list, list | None, tuple[str, str | None]]:
    """The inputs and labels (`None` if not `labeled`) of a Hugging Face `datasets.Dataset`, its columns
    found by name as a table's are, and their names. `ClassLabel` labels are read as their names (`int2str`),
    as `load_dataset("imdb")` stores 0 and 1 for "neg" and "pos".

    Raises:
        DataError: A `DatasetDict` (pass one split), decoded images (save the split as Parquet, which
            tfxfer reads), or no column named as inputs (labels) are.
    """
    if isinstance(dataset.column_names, dict):  # a DatasetDict
        splits = list(dataset.column_names)
        raise DataError(f"The Hugging Face DatasetDict holds the splits {', '.join(map(repr, splits))}: pass one, "
                        f"e.g. ds[{splits[0]!r}].")
    names = list(dataset.column_names)
    named_item, named_label = columns or (None, None)
    item = find_column(names, item_columns, named=named_item)
    images = [name for name in names if type(dataset.features[name]).__name__ == "Image"]
    if images and (item is None or names[item] in images):
        raise DataError(f"The Hugging Face Dataset's {images[0]!r} column holds images, which tfxfer reads from "
                        "files: save the split with ds.to_parquet('train.parquet') and pass that file (its "
                        "encoded images are read as they are).")
    label = find_column(names, LABEL_COLUMNS, named=named_label, codes=True) if labeled else None
    if item is None or (labeled and (label is None or label == item)):
        raise DataError(f"No {'input' if item is None else 'label'} column among the Hugging Face Dataset's columns "
                        f"({', '.join(map(repr, names[:12]))}). Name them with columns=(INPUT, LABEL).")
    item_name = names[item]
    items = dataset[item_name]
    if not labeled:
        return list(items), None, (item_name, None)
    label_name = names[label]
    labels = list(dataset[label_name])
    feature = dataset.features[label_name]
    if hasattr(feature, "int2str"):  # ClassLabel; -1 marks an unlabeled row (GLUE's test splits)
        labels = [feature.int2str(v) if isinstance(v, int) and v >= 0 else None for v in labels]
    return list(items), labels, (item_name, label_name)
