"""Exports ready for TPU serving: the numeric part is one function saved under the `tpu_func` alias the
Cloud TPU Inference Converter places on the TPU, float math that XLA compiles, which serving calls."""

import pytest
import numpy as np

from tests.conftest import run_without_tfxfer
from tfxfer.fitting import fit_head

# These tests check other things than the learning curve: one subsample per size (conftest).
pytestmark = pytest.mark.usefixtures("one_curve_draw")

# In a fresh process with TensorFlow alone: the aliased function, what it takes and returns, whether
# `serving_default` reaches it, and its answers compiled by XLA (which fails on any op XLA lacks, as
# string ops) beside the uncompiled ones and the serving signature's.
# The functions saved under the alias, and the graph's function library: `aliased`, `library`, `graph`.
ALIASED = """
    from tensorflow.core.protobuf import saved_model_pb2

    proto = saved_model_pb2.SavedModel()
    proto.ParseFromString(open({path!r} + "/saved_model.pb", "rb").read())
    graph = proto.meta_graphs[0]
    aliased = [name for name, alias in graph.meta_info_def.function_aliases.items() if alias == "tpu_func"]
    library = {{f.signature.name: f for f in graph.graph_def.library.function}}
"""
CHECK_TPU_FUNCTION = ALIASED + """

    def called(name, seen):
        for node in library[name].node_def:
            for value in node.attr.values():
                if value.func.name in library and value.func.name not in seen:
                    seen.add(value.func.name)
                    called(value.func.name, seen)
        return seen

    objects = graph.object_graph_def.nodes
    signatures = next(c.node_id for c in objects[0].children if c.local_name == "signatures")
    serving = next(objects[c.node_id] for c in objects[signatures].children if c.local_name == "serving_default")
    reached = called(serving.bare_concrete_function.concrete_function_name, set())
    m = tf.saved_model.load({path!r})
    serving = m.signatures["serving_default"]
    args = [a.type for f in aliased for a in list(library[f].signature.input_arg) + list(library[f].signature.output_arg)]
    inputs = {inputs}
    numeric = m.tpu_func(tf.constant(inputs))
    compiled = tf.function(m.tpu_func, jit_compile=True)(tf.constant(inputs))
    served = {served}
    print(json.dumps({{
        "aliased": len(aliased), "reached": bool(set(aliased) & reached),
        "arg_types": sorted({{tf.dtypes.as_dtype(t).name for t in args}}),
        "outputs": sorted(numeric), "numeric": numeric["scores"].numpy().tolist(),
        "compiled": compiled["scores"].numpy().tolist(), "served": served["scores"].numpy().tolist(),
    }}))
"""


def _check(out, expected):
    assert out["aliased"] == 1 and out["reached"], out  # one function, and serving goes through it
    assert out["arg_types"] == ["float32", "resource"]  # tensors and the variables; no strings
    assert out["outputs"] == ["probabilities", "scores"]
    np.testing.assert_allclose(out["numeric"], expected, atol=1e-5)
    np.testing.assert_allclose(out["compiled"], expected, atol=1e-5)
    np.testing.assert_allclose(out["served"], expected, atol=1e-5)


def test_text_export_has_a_tpu_function_of_its_feature_vectors(text_module, labeled_tsv, tmp_path):
    fitted = fit_head(text_module, labeled_tsv, lexical=True)
    texts = ["a cow and the goat", "the tram", "nothing known here"]
    features = fitted.features(texts).features.toarray()  # vectors, then the lexical columns (sparse)
    path = fitted.export(tmp_path / "export", "topics")
    out = run_without_tfxfer(CHECK_TPU_FUNCTION.format(
        path=str(path), inputs=features.tolist(),
        served=f'serving(text=tf.constant({texts!r}))',
    ))
    _check(out, fitted.classifier.predict_proba(features))
    readme = (tmp_path / "export" / "README.md").read_text()  # how to convert it, with the alias checked here
    assert """--converter_options_string='tpu_functions { function_alias: "tpu_func" }'""" in readme


def test_image_export_has_a_tpu_function_of_decoded_images(tiny_image_module, image_folder, tmp_path):
    fitted = fit_head(tiny_image_module, image_folder, image_size=16, cache_dir=tmp_path / "cache")
    files = sorted(str(p) for p in image_folder.rglob("*.*"))[:4]
    path = fitted.export(tmp_path / "export", "colours")
    decoded = ("tf.stack([tf.image.resize(tf.image.convert_image_dtype(tf.io.decode_image(open(f, 'rb').read(), 3, "
               f"expand_animations=False), tf.float32), (16, 16), antialias=True) for f in {files!r}])")
    out = run_without_tfxfer(CHECK_TPU_FUNCTION.format(
        path=str(path), inputs=decoded,  # as serving decodes them
        served=f'serving(image_bytes=tf.constant([open(f, "rb").read() for f in {files!r}]))',
    ))
    _check(out, fitted.classifier.predict_proba(fitted.features(files).features))
