"""A `models.config` of the user's, read as TF Serving reads it: models, base paths, version policies, labels."""

import asyncio
import dataclasses
import json
import logging
import shutil

import pytest

from tests.test_serve import TEXTS, Server, exports  # noqa: F401 - the fixture, shared
from tfxfer.errors import DataError
from tfxfer.export.model_config import read_model_configs
from tfxfer.fitting import fit_head
from tfxfer.serve.models import Registry, State
from tfxfer.serve.tensors import ServeError

# These tests check other things than the learning curve: one subsample per size (conftest).
pytestmark = pytest.mark.usefixtures("one_curve_draw")

PINNED = """model_config_list {
  config {
    name: 'topics'
    base_path: '/models/topics'
    model_platform: 'tensorflow'
    model_version_policy { specific { versions: 1 versions: 2 } }
    version_labels { key: 'stable' value: 1 }
    version_labels { key: 'canary' value: 2 }
  }
  config { name: 'colours' base_path: '/models/colours' model_platform: 'tensorflow' }
}
"""


@pytest.fixture
def pinned(exports, tmp_path):  # noqa: F811
    """The export with topics versions 1 - 3, and a models.config serving 1 and 2, labelled."""
    export = tmp_path / "export"
    shutil.copytree(exports[0], export)
    for version in (2, 3):
        shutil.copytree(export / "topics" / "1", export / "topics" / str(version))
    (export / "models.config").write_text(PINNED)
    return export


def loaded(export) -> Registry:
    registry = export if isinstance(export, Registry) else Registry(export)
    registry.load_new()
    return registry


def test_version_policies_labels_and_base_paths(pinned, tmp_path, caplog):
    registry = loaded(pinned)
    try:
        # Version 3 is on disk, but the policy serves 1 and 2: the highest of those answers by default.
        assert registry.available("topics") == [1, 2] and registry.get("topics").number == 2
        assert registry.available("colours") == [1]  # '/models/colours' is a Docker mount: read in the export
        assert registry.get("topics", label="stable").number == 1
        assert registry.get("topics", label="canary").number == 2
        with pytest.raises(ServeError, match="^Unrecognized servable version label: beta$") as e:
            registry.get("topics", label="beta")
        assert e.value.code == "INVALID_ARGUMENT"
        with pytest.raises(ServeError, match=r"Both model version \(1\) and model version label \(stable\)"):
            registry.get("topics", 1, "stable")
        with pytest.raises(ServeError, match="^Could not find version 3 of model topics$"):
            registry.status("topics", 3)
        # The config is polled as the versions are: latest { num_versions: 1 } serves 3 alone.
        (pinned / "models.config").write_text(PINNED.replace("specific { versions: 1 versions: 2 }", "latest {}"))
        with caplog.at_level(logging.INFO, logger="tfxfer.serve.models"):
            assert registry.load_new() == 0 and registry.load_new() == 1  # once seen unchanged for a poll
            registry.scan()
        assert registry.available("topics") == [3]
        assert "Unloading topics version 1: newer versions or the model config take its place." in caplog.text
        # A config broken while it is edited: a warning, once, and serving goes on as before.
        (pinned / "models.config").write_text("model_config_list { config { name: 'topics' ")
        with caplog.at_level(logging.WARNING, logger="tfxfer.serve.models"):
            assert registry.scan() == [] and registry.scan() == []
        assert caplog.text.count("is not a TF Serving model config") == 1 and "Serving as before" in caplog.text
        assert sorted(registry.models["topics"]) == [3]
    finally:
        registry.executor.shutdown()
    # An absolute base_path that exists here is read where it is, under its own model name.
    elsewhere = tmp_path / "elsewhere" / "any-folder"
    shutil.copytree(pinned / "topics", elsewhere)
    (pinned / "models.config").write_text(f"model_config_list {{ config {{ name: 'news' base_path: '{elsewhere}' "
                                          "model_platform: 'tensorflow' model_version_policy { all {} } } }")
    assert read_model_configs(pinned)["news"].folder == elsewhere
    registry = loaded(pinned)
    try:
        assert sorted(registry.models) == ["news"] and registry.available("news") == [1, 2, 3]
    finally:
        registry.executor.shutdown()


def test_a_config_tf_serving_would_refuse_is_refused(pinned, caplog):
    (pinned / "models.config").write_text(PINNED.replace("version_labels", "version_label"))
    with pytest.raises(DataError, match=r"models.config is not a TF Serving model config \(.*version_label.*\); "
                                        "TF Serving would refuse it too"):
        Registry(pinned)
    (pinned / "models.config").write_text("model_config_list { config { name: 'a' } config { name: 'a' } }")
    with pytest.raises(DataError, match="every config needs a name, each once"):
        Registry(pinned)
    (pinned / "models.config").write_text("model_config_list {}")  # as TF Serving: nothing served, and said
    registry = Registry(pinned)

    async def start_and_stop():
        await registry.start()
        await registry.stop()

    with caplog.at_level(logging.WARNING, logger="tfxfer.serve.models"):
        asyncio.run(start_and_stop())
    assert registry.models == {} and "list no model: none is served, as by TF Serving" in caplog.text


def test_labels_over_rest_and_grpc(pinned):
    import grpc
    import tensorflow as tf
    from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

    server = Server(pinned)
    try:
        status, body = server.post("/v1/models/topics/labels/stable:predict", {"instances": TEXTS})
        assert status == 200 and len(body["predictions"]) == 3
        assert server.post("/v1/models/topics/labels/beta:predict", {"instances": TEXTS}) == (
            400, {"error": "Unrecognized servable version label: beta"})
        assert server.post("/v1/models/topics/versions/3:predict", {"instances": TEXTS})[0] == 404
        status, body = server.get("/v1/models/topics/labels/canary/metadata")
        assert status == 200 and json.loads(body)["model_spec"]["version"] == "2"
        stub = prediction_service_pb2_grpc.PredictionServiceStub(grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}"))
        versions = {}
        for label in ("stable", "canary", "beta"):
            request = predict_pb2.PredictRequest()
            request.model_spec.name, request.model_spec.version_label = "topics", label
            request.inputs["text"].CopyFrom(tf.make_tensor_proto(TEXTS))
            try:
                versions[label] = stub.Predict(request, timeout=60).model_spec.version.value
            except grpc.RpcError as e:
                versions[label] = (e.code(), e.details())
        assert versions == {"stable": 1, "canary": 2, "beta": (grpc.StatusCode.INVALID_ARGUMENT,
                                                               "Unrecognized servable version label: beta")}
    finally:
        code, err = server.stop()
    assert code == 0 and "Ready: colours (versions 1), topics (versions 1, 2; canary: 2; stable: 1)." in err


def test_fit_head_warns_when_the_users_policy_does_not_serve_the_new_version(pinned, text_module, caplog):
    from tests.conftest import labeled_topic_rows

    train = pinned.parent / "train.tsv"
    train.write_text("text\tlabel\n" + "".join(f"{t}\t{l}\n" for t, l in labeled_topic_rows()))
    with caplog.at_level(logging.WARNING):
        fit_head(text_module, train, head="linear").export(pinned, name="topics")
    assert (pinned / "topics" / "4").is_dir() and (pinned / "models.config").read_text() == PINNED
    assert (f"{pinned / 'models.config'} serves only versions 1, 2 of topics (its version policy): version 4, just "
            "written, is not served by TF Serving or tfxfer serve until you add it there.") in caplog.text
    # A config that serves the model from another folder does not serve what is written here either.
    elsewhere = pinned.parent / "production"
    shutil.copytree(pinned / "topics", elsewhere)
    (pinned / "models.config").write_text(f"model_config_list {{ config {{ name: 'topics' base_path: '{elsewhere}' "
                                          "model_platform: 'tensorflow' } }")
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        fit_head(text_module, train, head="linear").export(pinned, name="topics")
    assert (f"serves topics from {elsewhere}, not from {pinned / 'topics'} where version 5 was written: TF Serving "
            "and tfxfer serve keep answering with the versions there.") in caplog.text


def test_the_latest_versions_are_served_where_no_policy_says(pinned, caplog):
    # Every version was loaded, and a model fitted again each day grew the server by ~60 MB a version.
    (pinned / "models.config").unlink()
    registry = Registry(pinned, latest_versions=2)

    async def start_and_stop():
        await registry.start()
        await registry.stop()

    with caplog.at_level(logging.INFO, logger="tfxfer.serve.models"):
        asyncio.run(start_and_stop())
    assert registry.available("topics") == [2, 3] and registry.available("colours") == [1]
    assert ("Serving the latest 2 versions of topics; 1 older left on disk (--latest-versions 0 serves all; TF "
            "Serving serves the latest alone).") in caplog.text
    registry = loaded(Registry(pinned, latest_versions=0))
    try:
        assert registry.available("topics") == [1, 2, 3]
    finally:
        registry.executor.shutdown()


def test_a_version_copied_in_is_loaded_once_complete_and_the_last_one_kept_till_then(exports, tmp_path):  # noqa: F811
    # `cp -r` of a version into a served export: a poll found it half-copied, failed to load it, and
    # never tried again; with one version served, the old one went before the new one answered.
    export = tmp_path / "export"
    (export / "topics").mkdir(parents=True)
    source = exports[0] / "topics" / "1"
    shutil.copytree(source, export / "topics" / "1")
    registry = loaded(Registry(export, latest_versions=1))
    try:
        half = export / "topics" / "2"
        half.mkdir()
        shutil.copy(source / "saved_model.pb", half)
        assert registry.load_new() == 0  # changing since the last poll: not read yet
        assert registry.load_new() == 0 and registry.models["topics"][2].state == State.END  # stopped half-way
        assert registry.available("topics") == [1] and registry.get("topics").number == 1  # still answering
        for part in source.iterdir():
            if part.is_dir():
                shutil.copytree(part, half / part.name)
        assert registry.load_new() == 0  # the copy went on: loaded once it has settled
        assert registry.load_new() == 1 and registry.get("topics").number == 2
        registry.scan()
        assert registry.available("topics") == [2]  # the old one unloaded once the new one answers
    finally:
        registry.executor.shutdown()


def test_a_config_pushed_over_grpc_is_served_as_tf_serving_serves_it(pinned):
    # ModelService.HandleReloadConfigRequest answered UNIMPLEMENTED.
    import grpc
    import tensorflow as tf
    from google.protobuf import text_format
    from tensorflow_serving.apis import (
        model_management_pb2,
        model_service_pb2_grpc,
        predict_pb2,
        prediction_service_pb2_grpc,
    )

    def pushed(text):
        request = model_management_pb2.ReloadConfigRequest()
        text_format.Parse(text, request.config)
        try:
            return models.HandleReloadConfigRequest(request, 120).status.error_code
        except grpc.RpcError as e:
            return e.code(), e.details()

    def version(label):
        request = predict_pb2.PredictRequest(model_spec={"name": "topics", "version_label": label})
        request.inputs["text"].CopyFrom(tf.make_tensor_proto(TEXTS))
        return predictions.Predict(request, 30).model_spec.version.value

    server = Server(pinned)
    try:
        channel = grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}")
        models = model_service_pb2_grpc.ModelServiceStub(channel)
        predictions = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        assert version("stable") == 1
        # The canary becomes stable: version 3 alone, and colours, no longer listed, is unloaded.
        assert pushed("model_config_list { config { name: 'topics' base_path: '/models/topics' "
                      "model_platform: 'tensorflow' model_version_policy { latest {} } "
                      "version_labels { key: 'stable' value: 3 } } }") == 0  # OK, once loaded
        assert version("stable") == 3
        status = json.loads(server.get("/v1/models/topics")[1])["model_version_status"]
        assert [s["version"] for s in status] == ["3"] and server.get("/v1/models/colours")[0] == 404
        assert pushed("model_config_list { config { name: 'topics' base_path: '/models/topics' "
                      "model_platform: 'tensorflow' version_labels { key: 'stable' value: 7 } } }") == (
            grpc.StatusCode.FAILED_PRECONDITION,
            "Request to assign label to version 7 of model topics, which is not currently available for inference")
        assert pushed("custom_model_config {}")[0] == grpc.StatusCode.INVALID_ARGUMENT
    finally:
        code, err = server.stop()
    assert code == 0 and "Serving the config pushed over gRPC: topics." in err


def test_requests_read_the_versions_while_a_scan_changes_them(exports):  # noqa: F811
    # Requests read the registry's dicts in the event loop's threads while the poller's scan adds and
    # removes versions (more often since the latest 3 are kept): "dictionary changed size during iteration".
    import threading

    registry = loaded(Registry(exports[0]))
    topics = registry.models["topics"][1]
    stop, errors = threading.Event(), []

    def churn():  # what scan does to the dicts, under the same lock
        n = 1000
        while not stop.is_set():
            with registry._lock:
                registry.models["topics"][n] = dataclasses.replace(topics, number=n, state=State.END)
                registry.models["topics"].pop(n - 1, None)
            n += 1

    thread = threading.Thread(target=churn)
    thread.start()
    try:
        for _ in range(20000):
            try:
                assert registry.get("topics").number == 1
                registry.status("topics")
            except (RuntimeError, KeyError) as e:
                errors.append(repr(e))
                break
    finally:
        stop.set()
        thread.join()
        registry.executor.shutdown()
    assert errors == []
