"""`tfxfer serve` over real sockets: TF Serving's REST and gRPC APIs, and the page in a real browser."""

import base64
import concurrent.futures
import json
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from tfxfer.export.predict import ExportedModel
from tfxfer.export.warmup import write_warmup
from tfxfer.fitting import fit_head


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class Server:
    """`python -m tfxfer serve` in a subprocess, on free loopback ports (of `host`, IPv4's by default)."""

    def __init__(self, export_dir, *extra, host: str = "127.0.0.1"):
        self.port, self.grpc_port = free_port(host), free_port(host)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tfxfer", "serve", str(export_dir), "--port", str(self.port),
             "--grpc-port", str(self.grpc_port), "--poll-seconds", "0.5", "--host", host, *map(str, extra)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        self.host = f"[{host}]" if ":" in host else host
        self.url = f"http://{self.host}:{self.port}"
        deadline = time.time() + 120
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.process.communicate()[1][-2000:]}")
            try:
                if self.get("/readyz")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError("server not ready")

    def request(self, method, path, body=None, raw: bytes | None = None):
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        req = urllib.request.Request(self.url + path, data=data, method=method)
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def get(self, path):
        return self.request("GET", path)

    def post(self, path, body=None, raw=None):
        status, content = self.request("POST", path, body, raw)
        return status, json.loads(content)

    def stop(self) -> tuple[int, str]:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        _, err = self.process.communicate(timeout=60)
        return self.process.returncode, err


@pytest.fixture(scope="module")
def exports(tmp_path_factory, text_module, tiny_image_module):
    """One export directory with a text model (`topics`) and an image model (`colours`)."""
    from tests.conftest import labeled_topic_rows, make_image_folder

    tmp = tmp_path_factory.mktemp("serve")
    train = tmp / "train.tsv"
    train.write_text("text\tlabel\n" + "".join(f"{t}\t{l}\n" for t, l in labeled_topic_rows()))
    fit_head(text_module, train, head="linear", export_dir=tmp / "export", name="topics")
    images = make_image_folder(tmp / "images")
    fit_head(tiny_image_module, images, head="linear", image_size=16, cache_dir=tmp / "cache",
             export_dir=tmp / "export", name="colours")
    return tmp / "export", images


@pytest.fixture(scope="module")
def server(exports):
    s = Server(exports[0])
    yield s
    s.stop()


TEXTS = ["the cow and a goat", "the tram and a bus", "nothing known"]


def test_rest_predictions_match_the_export(server, exports):
    expected = ExportedModel(exports[0] / "topics").scores(TEXTS)
    status, body = server.post("/v1/models/topics:predict", {"instances": TEXTS})
    assert status == 200
    np.testing.assert_allclose([p["scores"] for p in body["predictions"]], expected, atol=1e-5)
    assert [p["classes"] for p in body["predictions"][:2]] == ["animals", "vehicles"]
    status, body = server.post("/v1/models/topics/versions/1:predict",
                               {"signature_name": "serving_default", "inputs": {"text": TEXTS}})
    assert status == 200 and set(body["outputs"]) == {"scores", "classes", "probabilities"}
    np.testing.assert_allclose(body["outputs"]["scores"], expected, atol=1e-5)
    # Balanced classes: the probabilities are the scores.
    np.testing.assert_allclose(body["outputs"]["probabilities"], expected, atol=1e-5)
    files = sorted(str(p) for p in exports[1].rglob("*.*"))
    expected = ExportedModel(exports[0] / "colours").scores(files)
    instances = [{"b64": base64.b64encode(Path(f).read_bytes()).decode()} for f in files]
    status, body = server.post("/v1/models/colours:predict", {"instances": instances})
    assert status == 200
    np.testing.assert_allclose([p["scores"] for p in body["predictions"]], expected, atol=1e-5)


def test_grpc_with_the_tensorflow_serving_client(server, exports):
    import grpc
    import tensorflow as tf
    from tensorflow_serving.apis import (get_model_metadata_pb2, get_model_status_pb2, model_service_pb2_grpc,
                                         predict_pb2, prediction_service_pb2_grpc)

    channel = grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}")
    stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "topics"
    request.model_spec.signature_name = "serving_default"
    request.inputs["text"].CopyFrom(tf.make_tensor_proto(TEXTS))
    response = stub.Predict(request, 30)
    np.testing.assert_allclose(tf.make_ndarray(response.outputs["scores"]),
                               ExportedModel(exports[0] / "topics").scores(TEXTS), atol=1e-5)
    assert response.model_spec.version.value == 1
    assert [c.decode() for c in tf.make_ndarray(response.outputs["classes"])][:2] == ["animals", "vehicles"]
    image = Path(sorted(exports[1].rglob("*.png"))[0])
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "colours"
    request.inputs["image_bytes"].CopyFrom(tf.make_tensor_proto([image.read_bytes()]))
    classes = tf.make_ndarray(stub.Predict(request, 30).outputs["classes"])
    assert classes[0].decode() == image.parent.name
    metadata = stub.GetModelMetadata(get_model_metadata_pb2.GetModelMetadataRequest(
        model_spec={"name": "topics"}, metadata_field=["signature_def"]), 30)
    signatures = get_model_metadata_pb2.SignatureDefMap()
    metadata.metadata["signature_def"].Unpack(signatures)
    assert signatures.signature_def["serving_default"].inputs["text"].dtype == tf.string.as_datatype_enum
    status = model_service_pb2_grpc.ModelServiceStub(channel).GetModelStatus(
        get_model_status_pb2.GetModelStatusRequest(model_spec={"name": "topics"}), 30)
    assert status.model_version_status[0].state == get_model_status_pb2.ModelVersionStatus.AVAILABLE
    request.model_spec.name = "nope"
    with pytest.raises(grpc.RpcError) as error:
        stub.Predict(request, 30)
    assert error.value.code() == grpc.StatusCode.NOT_FOUND
    # Tensors no REST body can send: numbers for a text input were UNKNOWN with a traceback in the server's
    # log, and a scalar left its client waiting for ever (the batcher failed to merge it, and no one said).
    answers = {}
    for name, tensor in {"numbers": tf.make_tensor_proto([1, 2]), "scalar": tf.make_tensor_proto("the cat")}.items():
        request = predict_pb2.PredictRequest(model_spec={"name": "topics"})
        request.inputs["text"].CopyFrom(tensor)
        with pytest.raises(grpc.RpcError) as error:
            stub.Predict(request, 20)
        answers[name] = error.value.code(), error.value.details()
    assert answers == {
        "numbers": (grpc.StatusCode.INVALID_ARGUMENT, "Expects arg 'text' to be string but int32 is provided."),
        "scalar": (grpc.StatusCode.INVALID_ARGUMENT, "Input 'text': expecting shape [-1] but got []."),
    }


def test_status_and_metadata_have_tf_servings_shape(server):
    status, body = server.get("/v1/models/topics")
    assert status == 200 and json.loads(body) == {"model_version_status": [
        {"version": "1", "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}]}
    status, body = server.get("/v1/models/topics/versions/1/metadata")
    metadata = json.loads(body)
    assert metadata["model_spec"] == {"name": "topics", "signature_name": "", "version": "1"}
    default = metadata["metadata"]["signature_def"]["signature_def"]["serving_default"]
    assert default["inputs"]["text"]["dtype"] == "DT_STRING"
    assert default["inputs"]["text"]["tensor_shape"] == {"dim": [{"size": "-1", "name": ""}], "unknown_rank": False}
    assert default["method_name"] == "tensorflow/serving/predict" and "@type" not in metadata["metadata"]["signature_def"]
    assert server.get("/v1/models/nope")[0] == 404 and server.get("/v1/models/topics/versions/9")[0] == 404


@pytest.mark.parametrize("path, body, status, message", [
    ("/v1/models/topics:predict", b"{instances", 400, "JSON Parse error"),
    ("/v1/models/topics:predict", b"", 400, "The document is empty"),
    ("/v1/models/topics:predict", {"instances": [{"txt": "a"}]}, 400, "keys must be equal to: text"),
    ("/v1/models/topics:predict", {"inputs": {"txt": ["a"]}}, 400, "Missing named input: text"),
    ("/v1/models/topics:predict", {"instances": [1.5]}, 400, "is not of expected type: string"),
    ("/v1/models/topics:predict", {"instances": []}, 400, "No values in 'instances' array"),
    ("/v1/models/topics:predict", {"text": ["a"]}, 400, "Missing 'inputs' or 'instances' key"),
    ("/v1/models/topics:predict", {"instances": ["a"], "signature_name": "nope"}, 400, "not found in signature def"),
    ("/v1/models/colours:predict", {"instances": [{"b64": base64.b64encode(b"not an image").decode()}]}, 400,
     "Unknown image file format"),
    ("/v1/models/colours:predict", {"instances": [{"b64": "%%%"}]}, 400, "base64"),
    # A photo's base64 text sent as a plain string: the model cannot decode it; the answer says how to send it.
    ("/v1/models/colours:predict", {"instances": [base64.b64encode(b"\x89PNG\r\n").decode()]}, 400,
     "Input 'image_bytes' takes binary data: send each value as {\"b64\": \"...\"} (base64)"),
    ("/v1/models/colours:predict", {"inputs": {"image_bytes": ["iVBORw0KGgo="]}}, 400, "takes binary data"),
    ("/v1/models/nope:predict", {"instances": ["a"]}, 404, "Servable not found"),
    ("/v1/models/topics/versions/7:predict", {"instances": ["a"]}, 404, "Specific(topics, 7)"),
    ("/v1/models/topics:classify", {"examples": []}, 501, "not served"),
    # Lists nested past what a tensor or Python's parser holds were 500s, "Internal error".
    ("/v1/models/topics:predict", b'{"instances": ["a", ' + b"[" * 500 + b'"a"' + b"]" * 500 + b"]}", 400,
     "Input 'text': lists nested 501 deep; a tensor has at most 64 dimensions"),
    ("/v1/models/topics:predict", b'{"instances": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", 400,
     "JSON Parse error: The document nests arrays or objects too deeply"),
    ("/v1/models/topics:predict", b'{"instances": [' + b"9" * 5000 + b"]}", 400,  # not "use sys.set_int_max..."
     "JSON Parse error: Number too big to be stored in double"),
])
def test_bad_requests_get_clear_errors_and_the_server_keeps_serving(server, path, body, status, message):
    raw = body if isinstance(body, bytes) else None
    code, answer = server.post(path, None if raw is not None else body, raw)
    assert code == status and message in answer["error"]
    assert server.post("/v1/models/topics:predict", {"instances": ["the cat"]})[0] == 200


def test_a_text_cut_mid_emoji_is_answered(server, exports):
    # JavaScript's JSON.stringify of text.slice(0, n) can end in half an emoji: a lone surrogate escape,
    # which was a 500. It is read as U+FFFD, as a UTF-8 decoder replaces what it cannot read.
    code, answer = server.post("/v1/models/topics:predict", raw=b'{"instances": ["the cow \\ud83d", "the tram"]}')
    assert code == 200
    expected = ExportedModel(exports[0] / "topics").scores(["the cow \ufffd", "the tram"])
    np.testing.assert_allclose([p["scores"] for p in answer["predictions"]], expected, atol=1e-5)


def test_reports_are_served_by_name_only(server):
    status, content = server.get("/tfxfer/models/topics/versions/1/reports/learning_curve.png")
    assert status == 200 and content.startswith(b"\x89PNG")
    assert server.get("/tfxfer/models/topics/versions/1/reports/..%2F1%2Fsaved_model.pb")[0] == 404
    assert server.get("/tfxfer/models/topics/versions/1/reports/report.txt")[0] == 404
    status, content = server.get("/tfxfer/models/topics/versions/1/reports/report.html")  # its plots beside it
    assert status == 200 and b'<img src="learning_curve.png"' in content
    assert server.get("/static/..%2F..%2F__init__.py")[0] == 404
    models = json.loads(server.get("/tfxfer/models")[1])
    assert {m["name"] for m in models["models"]} == {"topics", "colours"}


def test_concurrent_requests_are_batched_and_answered_right(server):
    def one(i):
        return server.post("/v1/models/topics:predict", {"instances": [TEXTS[i % 2]]})[1]["predictions"][0]["classes"]

    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(one, range(64)))
    assert answers == [["animals", "vehicles"][i % 2] for i in range(64)]


@pytest.mark.parametrize("batching", ["--batching", "--no-batching"])
def test_requests_larger_than_a_batch_are_answered_in_parts(exports, batching):
    # One call on all of a request's examples: 512 photos took 9.3 GB of the server, and 2,048 killed it.
    server = Server(exports[0], "--max-batch-size", "3", batching, "--quiet")
    try:
        texts = [TEXTS[i % 2] + " " + "and the cat " * (i % 5) for i in range(10)]
        status, whole = server.post("/v1/models/topics:predict", {"instances": texts})
        alone = [server.post("/v1/models/topics:predict", {"instances": [t]})[1]["predictions"][0] for t in texts]
    finally:
        server.stop()
    assert status == 200 and len(whole["predictions"]) == 10
    for got, expected in zip(whole["predictions"], alone):
        assert got["classes"] == expected["classes"] and np.allclose(got["scores"], expected["scores"], atol=1e-6)


def test_batcher_merges_requests_that_arrive_while_busy():
    import asyncio

    from tfxfer.serve.batching import Batcher

    calls = []

    def run(inputs):
        calls.append(len(inputs["x"]))
        time.sleep(0.05)
        return {"y": inputs["x"] * 2}

    async def main():
        batcher = Batcher(run, concurrent.futures.ThreadPoolExecutor(1), max_batch_size=8)
        results = await asyncio.gather(*(batcher.submit({"x": np.array([i, i])}) for i in range(10)))
        return [r["y"].tolist() for r in results]

    assert asyncio.run(main()) == [[2 * i, 2 * i] for i in range(10)]
    assert len(calls) < 10 and max(calls) <= 8  # merged, within the size limit

    calls.clear()  # a request larger than a batch runs in parts of one: 2,048 photos at once took a server down

    async def large():
        batcher = Batcher(run, concurrent.futures.ThreadPoolExecutor(1), max_batch_size=8)
        return await batcher.submit({"x": np.arange(20)})

    assert asyncio.run(large())["y"].tolist() == list(range(0, 40, 2)) and calls == [8, 8, 4]
    calls.clear()  # a client that goes away (its timeout, a closed tab) stops its parts from running

    async def abandoned():
        batcher = Batcher(run, concurrent.futures.ThreadPoolExecutor(1), max_batch_size=8)
        request = asyncio.ensure_future(batcher.submit({"x": np.arange(80)}))
        await asyncio.sleep(0.08)  # into the second part
        request.cancel()
        await asyncio.sleep(0.3)

    asyncio.run(abandoned())
    assert calls == [8, 8]

    async def unmergeable():  # a 0-d array cannot be concatenated: its client gets the error, not silence
        batcher = Batcher(run, concurrent.futures.ThreadPoolExecutor(1), max_batch_size=8)
        return await asyncio.wait_for(batcher.submit({"x": np.array(3)}), 10)

    with pytest.raises(ValueError, match="zero-dimensional arrays cannot be concatenated"):
        asyncio.run(unmergeable())


def test_new_versions_load_without_a_restart(exports, tmp_path):
    export = tmp_path / "export"
    shutil.copytree(exports[0], export)
    server = Server(export)
    try:
        shutil.copytree(export / "topics" / "1", export / "topics" / ".2.tmp")
        (export / "topics" / ".2.tmp").rename(export / "topics" / "2")
        broken = export / "topics" / "3"
        broken.mkdir()
        (broken / "saved_model.pb").write_bytes(b"\x08garbage")
        # A warmup request the model cannot answer fails the load, as in TF Serving.
        shutil.copytree(export / "topics" / "1", export / "topics" / ".4.tmp")
        write_warmup(export / "topics" / ".4.tmp", "topics", "sentence", "text")
        (export / "topics" / ".4.tmp").rename(export / "topics" / "4")
        deadline = time.time() + 30
        while time.time() < deadline:
            versions = json.loads(server.get("/v1/models/topics")[1])["model_version_status"]
            if len(versions) == 3 and all(v["state"] in ("AVAILABLE", "END") for v in versions):
                break  # the new versions found, and done loading
            time.sleep(0.3)
        states = {v["version"]: (v["state"], v["status"]["error_code"]) for v in versions}
        assert states["2"] == ("AVAILABLE", "OK") and states["3"][0] == "END" and states["3"][1] != "OK"
        assert states["4"][0] == "END" and "1" not in states  # the latest 3 are served (--latest-versions)
        status, body = server.post("/v1/models/topics:predict", {"instances": ["the cat"]})
        assert status == 200  # the highest version that loaded answers
        assert server.post("/v1/models/topics/versions/3:predict", {"instances": ["the cat"]})[0] == 404
    finally:
        code, err = server.stop()
    assert code == 0 and "Cannot load topics version 3" in err and "Stopped." in err
    assert "earlier versions keep serving, and it is loaded again when its files change." in err
    assert "Serving topics version 2 from" in err and "(warmed up with 2 requests)" in err
    assert "Cannot load topics version 4" in err and "its warmup request failed" in err
    assert "Unloading topics version 1: newer versions or the model config take its place." in err


def test_an_ipv6_address(exports):
    # gRPC was given "::1:8500", which it cannot bind: a traceback; the REST address printed was no URL.
    import grpc
    import tensorflow as tf
    from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

    try:
        free_port("::1")
    except OSError:
        pytest.skip("no IPv6 loopback on this machine")
    server = Server(exports[0], host="::1")
    try:
        assert server.post("/v1/models/topics:predict", {"instances": ["the cat"]})[0] == 200
        stub = prediction_service_pb2_grpc.PredictionServiceStub(grpc.insecure_channel(f"[::1]:{server.grpc_port}"))
        request = predict_pb2.PredictRequest(model_spec={"name": "topics"})
        request.inputs["text"].CopyFrom(tf.make_tensor_proto(["the cat"]))
        assert stub.Predict(request, 30).model_spec.version.value == 1
    finally:
        code, err = server.stop()
    assert code == 0 and f"REST API and page: http://[::1]:{server.port}/   gRPC: [::1]:{server.grpc_port}" in err


def test_port_0_serves_on_a_free_port_and_says_which(exports):
    # For client tests run side by side; the address said was http://127.0.0.1:0.
    import asyncio
    import threading

    from tfxfer import config
    from tfxfer.serve.server import run

    said, loop, stop = [], asyncio.new_event_loop(), None

    def serve():
        nonlocal stop
        stop = asyncio.Event()
        loop.run_until_complete(run(exports[0], config.ServeConfig(port=0, grpc_port=0), said.append, stop))

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    deadline = time.time() + 120
    while not any("models" in s for s in said) and time.time() < deadline:
        time.sleep(0.2)
    url = said[0]["rest"]
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", url) and not url.endswith(":0")
    with urllib.request.urlopen(url + "/readyz", timeout=30) as answer:
        assert json.loads(answer.read()) == {"ready": True}
    loop.call_soon_threadsafe(stop.set)
    thread.join(60)
    assert not thread.is_alive()


def test_limits_ports_and_shutdown(exports):
    server = Server(exports[0], "--max-request-bytes", "2000", "--quiet")
    try:
        status, body = server.post("/v1/models/topics:predict", {"instances": ["x" * 5000]})
        assert status == 413 and "--max-request-bytes" in body["error"]
        assert server.post("/v1/models/topics:predict", {"instances": ["the cat"]})[0] == 200
        taken = subprocess.run([sys.executable, "-m", "tfxfer", "serve", str(exports[0]), "--port", str(server.port)],
                               capture_output=True, text=True, timeout=120)
        assert taken.returncode == 1
        assert [l for l in taken.stderr.splitlines() if l.startswith("Error:")] == [
            f"Error: Port {server.port} on 127.0.0.1 is in use. Stop what listens there, or pass --port with another "
            "port."]
    finally:
        code, err = server.stop()
    assert code == 0 and "Listening on 127.0.0.1 only" in err and '"POST' not in err  # --quiet: no request log


def test_a_request_whose_client_went_away_stops_between_batches(exports):
    # A client that timed out left its request running to the end (every batch of it) while the next
    # requests waited behind it.
    server = Server(exports[0], "--max-batch-size", "64")
    try:
        texts = [TEXTS[i % 2] for i in range(60_000)]  # about 1,000 batches: seconds
        request = urllib.request.Request(server.url + "/v1/models/topics:predict",
                                         data=json.dumps({"instances": texts}).encode(), method="POST")
        with pytest.raises(OSError):  # a timeout
            urllib.request.urlopen(request, timeout=0.5)
        start = time.perf_counter()
        status, _ = server.post("/v1/models/topics:predict", {"instances": ["the cat"]})
        waited = time.perf_counter() - start
    finally:
        code, err = server.stop()
    assert status == 200 and waited < 1.0, waited
    assert re.search(r'"POST /v1/models/topics:predict" closed by the client after \d+\.\dms', err), err[-2000:]
