"""TF Serving's REST API (and the try-it page) on aiohttp.

The same URLs, JSON and status codes as `tensorflow_model_server --rest_api_port`:

- `POST /v1/models/NAME[/versions/N|/labels/LABEL]:predict` (`instances` or `inputs`),
- `GET /v1/models/NAME[/versions/N|/labels/LABEL]` (status) and `.../metadata`,
- errors as `{"error": "..."}` with TF Serving's HTTP codes.

Beside them, for people and probes: `/` (the page), `/healthz`, `/readyz`,
and `/tfxfer/models` (what the page lists). Nothing here writes to disk.

Pages of other origins may call the API where `allow_origins` names them
(CORS, which TF Serving does not answer): a web app under development on
`localhost:3000` calls a model served on `localhost:8501` without a proxy.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import time
from importlib import resources

from aiohttp import web
from google.protobuf import json_format
from tensorflow_serving.apis import get_model_metadata_pb2

from tfxfer.metrics import is_imbalanced
from tfxfer.serve.models import REPORT_FILES, Registry, State
from tfxfer.serve.tensors import ServeError, format_predict_response, parse_predict_body, plain_binary_inputs

logger = logging.getLogger("tfxfer.serve")
access_log = logging.getLogger("tfxfer.serve.access")

NAME = r"{name:[^/:]+}"
VERSION = r"{version:\d+}"
LABEL = r"{label:[^/:]+}"
MAX_REQUEST_BYTES = web.AppKey("max_request_bytes", int)
PAGE_FILES = {"index.html": "text/html", "app.js": "text/javascript", "style.css": "text/css"}


def _json(data, status: int = 200) -> web.Response:
    return web.Response(text=json.dumps(data, indent=1, allow_nan=True), status=status,
                        content_type="application/json")


def _error(message: str, status: int) -> web.Response:
    return _json({"error": message}, status)


# Fields at their default values are printed, as TF Serving does. Protobuf before 5.26 (TensorFlow up
# to 2.19 allows 4.x) names that option including_default_value_fields.
_ALL_FIELDS = next(name for name in ("always_print_fields_with_no_presence", "including_default_value_fields")
                   if name in inspect.signature(json_format.MessageToDict).parameters)


def _proto_dict(message) -> dict:
    return json_format.MessageToDict(message, preserving_proto_field_name=True, **{_ALL_FIELDS: True})


def _proto_json(message) -> web.Response:
    return _json(_proto_dict(message))


def _cors(origins: frozenset[str]):
    """Middleware answering browsers' CORS preflights and marking answers readable by `origins` (`*`: any)."""

    @web.middleware
    async def cors(request: web.Request, handler):
        origin = request.headers.get("Origin")
        allowed = origin is not None and ("*" in origins or origin in origins)
        if allowed and request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
            response = web.Response(status=204, headers={
                "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
                "Access-Control-Allow-Headers": request.headers.get("Access-Control-Request-Headers", "Content-Type"),
                "Access-Control-Max-Age": "600"})
        else:
            response = await handler(request)
        if allowed:  # errors too: a page reads the `error` of a 400 as TF Serving's clients do
            response.headers["Access-Control-Allow-Origin"] = "*" if "*" in origins else origin
            response.headers["Vary"] = "Origin"
        return response

    return cors


@web.middleware
async def _errors_and_log(request: web.Request, handler):
    start = time.perf_counter()
    try:
        response = await handler(request)
    except ServeError as e:
        response = _error(e.message, e.http_status)
    except web.HTTPRequestEntityTooLarge:
        response = _error(f"Request body too large: more than the server's --max-request-bytes "
                          f"({request.app[MAX_REQUEST_BYTES]:,} bytes).", 413)
    except web.HTTPException as e:
        if e.status < 400:
            raise
        response = _error(e.reason if e.status != 404 else f"Not found: {request.method} {request.path}", e.status)
    except Exception:  # noqa: BLE001 - answer and keep serving
        logger.exception("Internal error on %s %s", request.method, request.path)
        response = _error("Internal error; see the server's log.", 500)
    except asyncio.CancelledError:  # the client went away (handler_cancellation): what it asked is dropped
        access_log.info('%s "%s %s" closed by the client after %.1fms', request.remote, request.method,
                        request.path_qs, 1000 * (time.perf_counter() - start))
        raise
    access_log.info('%s "%s %s" %d %.1fms', request.remote, request.method, request.path_qs, response.status,
                    1000 * (time.perf_counter() - start))
    return response


def _version(request: web.Request) -> int | None:
    value = request.match_info.get("version")
    return int(value) if value is not None else None


def _spec(request: web.Request) -> tuple[str, int | None, str | None]:
    """The model name, version number and version label a URL names."""
    return request.match_info["name"], _version(request), request.match_info.get("label")


class RestApi:
    """The aiohttp application for a `Registry`."""

    def __init__(self, registry: Registry, max_request_bytes: int, allow_origins: tuple[str, ...] = ()):
        self.registry = registry
        middlewares = [_cors(frozenset(allow_origins))] if allow_origins else []
        self.app = web.Application(client_max_size=max_request_bytes, middlewares=[*middlewares, _errors_and_log])
        self.app[MAX_REQUEST_BYTES] = max_request_bytes
        route = self.app.router
        for prefix in (f"/v1/models/{NAME}", f"/v1/models/{NAME}/versions/{VERSION}",
                       f"/v1/models/{NAME}/labels/{LABEL}"):
            route.add_get(prefix, self.status)
            route.add_get(prefix + "/metadata", self.metadata)
            route.add_post(prefix + ":predict", self.predict)
            route.add_post(prefix + r":{method:classify|regress}", self.unimplemented)
        route.add_get("/", self.page)
        route.add_get("/static/{file}", self.page_file)
        route.add_get("/healthz", self.healthz)
        route.add_get("/readyz", self.readyz)
        route.add_get("/tfxfer/models", self.models)
        route.add_get(f"/tfxfer/models/{NAME}/versions/{VERSION}/reports/{{file}}", self.report_file)

    async def status(self, request):
        # As TF Serving's: a label does not narrow the status to its version.
        return _proto_json(self.registry.status(request.match_info["name"], _version(request)))

    async def metadata(self, request):
        # As TF Serving's REST API: the SignatureDefMap as JSON itself, not as a packed `Any` with "@type".
        response = self.registry.metadata(*_spec(request))
        signature_map = get_model_metadata_pb2.SignatureDefMap()
        response.metadata["signature_def"].Unpack(signature_map)
        return _json({"model_spec": _proto_dict(response.model_spec),
                      "metadata": {"signature_def": _proto_dict(signature_map)}})

    async def predict(self, request):
        raw = await request.read()
        if not raw.strip():
            raise ServeError("INVALID_ARGUMENT", "JSON Parse error: The document is empty")
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as e:
            if "integer string conversion" in str(e):  # not Python's advice to itself: RapidJSON's, as TF Serving
                raise ServeError("INVALID_ARGUMENT",
                                 "JSON Parse error: Number too big to be stored in double.") from None
            raise ServeError("INVALID_ARGUMENT", f"JSON Parse error: {e}") from None
        except RecursionError:
            raise ServeError("INVALID_ARGUMENT", "JSON Parse error: The document nests arrays or objects too "
                                                 "deeply.") from None
        signature = body.get("signature_name", "serving_default") if isinstance(body, dict) else "serving_default"
        if not isinstance(signature, str):
            raise ServeError("INVALID_ARGUMENT", "'signature_name' key must be a string value.")
        name, number, label = _spec(request)
        specs = self.registry.get(name, number, label).input_specs(signature or "serving_default")
        inputs, rows = parse_predict_body(body, specs)
        try:
            _, outputs = await self.registry.predict(name, number, signature, inputs, label)
        except ServeError as e:
            plain = plain_binary_inputs(body, specs)
            if plain and e.code == "INVALID_ARGUMENT":
                raise ServeError(e.code, f"{e.message.rstrip('.')}. Input {plain[0]!r} takes binary data: send each "
                                         "value as {\"b64\": \"...\"} (base64), as TF Serving's REST API "
                                         "reads binary inputs.") from None
            raise
        return _json(format_predict_response(outputs, rows))

    async def unimplemented(self, request):
        raise ServeError("UNIMPLEMENTED", f":{request.match_info['method']} is not served by tfxfer serve "
                                          "(tfxfer exports use :predict).")

    async def healthz(self, request):
        return _json({"status": "ok"})

    async def readyz(self, request):
        ready = self.registry.ready
        return _json({"ready": ready}, 200 if ready else 503)

    async def models(self, request):
        """What the page shows: models, versions, labels, input, report summary."""
        out = []
        for name, found in sorted(self.registry.snapshot().items()):
            version_labels = self.registry.labels(name)
            versions = []
            for number, v in sorted(found.items()):
                entry = {"version": number, "state": "AVAILABLE" if v.state == State.AVAILABLE else "ERROR" if v.error else "LOADING", "error": v.error,
                         "labels": v.labels, "inputs": {}, "report": None, "files": [],
                         "version_labels": sorted(k for k, n in version_labels.items() if n == number)}
                if v.signatures.get("serving_default") is not None:
                    entry["inputs"] = {k: s.dtype.name for k, s in v.input_specs("serving_default").items()}
                reports = v.path.parent / "reports" / str(number)
                entry["files"] = [f for f in REPORT_FILES if (reports / f).is_file()]
                if (reports / "report.json").is_file():
                    entry["report"] = _summary(reports / "report.json")
                versions.append(entry)
            out.append({"name": name, "latest": (self.registry.available(name) or [None])[-1], "versions": versions})
        return _json({"ready": self.registry.ready, "models": out})

    async def report_file(self, request):
        path = self.registry.report_file(request.match_info["name"], _version(request), request.match_info["file"])
        return web.FileResponse(path, headers={"Content-Type": REPORT_FILES[path.name]})

    async def page(self, request):
        return self._page("index.html")

    async def page_file(self, request):
        return self._page(request.match_info["file"])

    def _page(self, name: str) -> web.Response:
        if name not in PAGE_FILES:
            raise ServeError("NOT_FOUND", f"No page file {name!r}.")
        text = resources.files("tfxfer.serve").joinpath("page", name).read_text(encoding="utf-8")
        return web.Response(text=text, content_type=PAGE_FILES[name], charset="utf-8")


def _summary(path) -> dict | None:
    """The few report figures the page shows."""
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    cv = report.get("cross_validation") or {}
    figures = cv.get("metrics") or {}
    return {
        "head": report.get("head"),
        "accuracy": cv.get("accuracy_mean"),
        "accuracy_std": cv.get("accuracy_std"),
        "accuracy_interval": cv.get("accuracy_interval"),  # reports since stop 27
        # Beside accuracy when always answering the largest class would score high.
        "balanced_accuracy": (figures.get("balanced_accuracy")
                              if figures.get("per_class") and is_imbalanced(figures) else None),
        "majority": {"label": cv.get("majority_class"), "accuracy": cv.get("majority_accuracy")},
        "class_counts": report.get("class_counts"),
        "per_class": figures.get("per_class"),
        "labels_needed": (report.get("labels_needed") or {}).get("message"),
        "calibration": {k: (report.get("calibration") or {}).get(k)
                        for k in ("temperature", "ece_before", "ece_after", "ece_chance")},
    }
