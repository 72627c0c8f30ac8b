"""TF Serving's gRPC API: `PredictionService` and `ModelService`, on grpc.aio.

Implemented on the servicer classes the `tensorflow-serving-api` package
generates, so clients use that package's own stubs (`PredictionServiceStub`,
`tf.make_tensor_proto`) against `tfxfer serve` as against
`tensorflow_model_server`.
"""

from __future__ import annotations

import asyncio
import logging

import grpc
import tensorflow as tf
from tensorflow_serving.apis import (model_management_pb2, model_service_pb2_grpc, predict_pb2,
                                     prediction_service_pb2_grpc)

from tfxfer.errors import DataError
from tfxfer.serve.models import DEFAULT_SIGNATURE, Registry
from tfxfer.serve.tensors import ServeError

logger = logging.getLogger("tfxfer.serve")


def _version(spec) -> int | None:
    return spec.version.value if spec.HasField("version") else None


def _label(spec) -> str | None:
    return spec.version_label if spec.WhichOneof("version_choice") == "version_label" else None


async def _abort(context, error: ServeError):
    await context.abort(getattr(grpc.StatusCode, error.code, grpc.StatusCode.INTERNAL), error.message)


class PredictionServicer(prediction_service_pb2_grpc.PredictionServiceServicer):
    """`Predict` and `GetModelMetadata`; `Classify`, `Regress` and `MultiInference` answer UNIMPLEMENTED."""

    def __init__(self, registry: Registry):
        self.registry = registry

    async def Predict(self, request, context):  # noqa: N802 - the generated name
        spec = request.model_spec
        signature = spec.signature_name or DEFAULT_SIGNATURE
        try:
            try:
                inputs = {k: tf.make_ndarray(v) for k, v in request.inputs.items()}
            except (TypeError, ValueError) as e:
                raise ServeError("INVALID_ARGUMENT", f"Cannot read the input tensors: {e}") from None
            version, outputs = await self.registry.predict(spec.name, _version(spec), signature, inputs, _label(spec))
        except ServeError as e:
            await _abort(context, e)
            return None
        except Exception:  # noqa: BLE001 - answer, as REST does, and keep serving
            logger.exception("Internal error on gRPC Predict for %s", spec.name)
            await _abort(context, ServeError("INTERNAL", "Internal error; see the server's log."))
            return None
        wanted = set(request.output_filter) or set(outputs)
        unknown = wanted - set(outputs)
        if unknown:
            await _abort(context, ServeError("INVALID_ARGUMENT", f"output tensor alias not found in signature: "
                                                                 f"{sorted(unknown)[0]}"))
        response = predict_pb2.PredictResponse()
        response.model_spec.name = spec.name
        response.model_spec.version.value = version.number
        response.model_spec.signature_name = signature
        for name in sorted(wanted):
            response.outputs[name].CopyFrom(tf.make_tensor_proto(outputs[name]))
        return response

    async def GetModelMetadata(self, request, context):  # noqa: N802
        if list(request.metadata_field) != ["signature_def"]:
            await _abort(context, ServeError("INVALID_ARGUMENT", "Metadata field signature_def is the only one "
                                                                 "supported; pass metadata_field=['signature_def']."))
        try:
            return self.registry.metadata(request.model_spec.name, _version(request.model_spec),
                                          _label(request.model_spec))
        except ServeError as e:
            await _abort(context, e)

    async def _unimplemented(self, request, context):
        await _abort(context, ServeError("UNIMPLEMENTED", "tfxfer serve answers Predict and GetModelMetadata."))

    Classify = Regress = MultiInference = _unimplemented


class ModelServicer(model_service_pb2_grpc.ModelServiceServicer):
    """`GetModelStatus`, and `HandleReloadConfigRequest`: a config pushed in place of the files."""

    def __init__(self, registry: Registry):
        self.registry = registry

    async def GetModelStatus(self, request, context):  # noqa: N802
        try:
            return self.registry.status(request.model_spec.name, _version(request.model_spec))
        except ServeError as e:
            await _abort(context, e)

    async def HandleReloadConfigRequest(self, request, context):  # noqa: N802
        try:
            await asyncio.get_running_loop().run_in_executor(None, self.registry.reload_config, request.config)
        except (DataError, ServeError) as e:
            error = e if isinstance(e, ServeError) else ServeError("INVALID_ARGUMENT", str(e))
            logger.error("ReloadConfig failed: %s", error.message)
            await _abort(context, error)
            return None
        return model_management_pb2.ReloadConfigResponse()  # status OK


def add_services(server, registry: Registry) -> None:
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(PredictionServicer(registry), server)
    model_service_pb2_grpc.add_ModelServiceServicer_to_server(ModelServicer(registry), server)
