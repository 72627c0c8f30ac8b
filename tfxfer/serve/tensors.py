"""TF Serving's JSON encoding of tensors (row and columnar formats), and its error codes.

Follows `tensorflow_serving/util/json_tensor.cc` and `g3doc/api_rest.md`:
`{"instances": [...]}` (one row per example; objects when a signature has
several inputs) or `{"inputs": ...}` (a tensor, or an object of tensors);
binary strings as `{"b64": "..."}`; answers `{"predictions": [...]}` /
`{"outputs": ...}`, with an object per row when there are several outputs,
and string outputs whose name ends in `_bytes` base64-encoded.
"""

from __future__ import annotations

import base64
import binascii
import math

import numpy as np
import tensorflow as tf

# gRPC status codes (grpc.StatusCode names) and the HTTP codes TF Serving maps them to.
HTTP_STATUS = {"INVALID_ARGUMENT": 400, "FAILED_PRECONDITION": 400, "OUT_OF_RANGE": 400, "NOT_FOUND": 404,
               "RESOURCE_EXHAUSTED": 429, "UNIMPLEMENTED": 501, "UNAVAILABLE": 503, "INTERNAL": 500}


class ServeError(Exception):
    """A request that cannot be answered, with the gRPC code that says why.

    Args:
        code: A `grpc.StatusCode` name, e.g. `"INVALID_ARGUMENT"`, `"NOT_FOUND"`.
        message: What went wrong, for the client.
    """

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code, self.message = code, message

    @property
    def http_status(self) -> int:
        return HTTP_STATUS.get(self.code, 500)


MAX_RANK = 64  # NumPy's most dimensions


def invalid(message: str) -> ServeError:
    return ServeError("INVALID_ARGUMENT", message)


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _leaf(value, dtype: tf.DType):
    """One JSON scalar as the signature's dtype."""
    if dtype == tf.string:
        if isinstance(value, dict):
            if set(value) != {"b64"} or not isinstance(value["b64"], str):
                raise invalid(f"JSON Value: {_short(value)} not formatted correctly for base64 data")
            try:
                return base64.b64decode(value["b64"], validate=True)
            except (binascii.Error, ValueError):
                raise invalid(f"JSON Value: {_short(value)} Unable to base64 decode") from None
        if isinstance(value, str):
            try:
                return value.encode("utf-8")
            except UnicodeEncodeError:  # a lone surrogate: JavaScript's JSON.stringify of a text cut mid-emoji
                return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace").encode("utf-8")
    elif dtype == tf.bool:
        if isinstance(value, bool):
            return value
    elif dtype.is_integer:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif dtype.is_floating:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return value
        if value in ("NaN", "Infinity", "-Infinity"):
            return float(value.replace("Infinity", "inf"))
    raise invalid(f"JSON Value: {_short(value)} Type: {type(value).__name__} is not of expected type: {dtype.name}")


def _too_deep(value) -> int:
    """How deeply lists nest in a JSON value where that is past `MAX_RANK`, else 0; without recursion."""
    stack = [(value, 0)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, list):
            if depth + 1 > MAX_RANK:
                while isinstance(value, list) and value:  # how deep it goes, for the message
                    value, depth = value[0], depth + 1
                return depth + isinstance(value, list)
            stack.extend((v, depth + 1) for v in value)
    return 0


def _tensor(value, spec: tf.TensorSpec, name: str) -> np.ndarray:
    """A nested JSON list as an array of the spec's dtype and rank."""
    def convert(v):
        return [convert(x) for x in v] if isinstance(v, list) else _leaf(v, spec.dtype)

    deep = _too_deep(value)  # deeper, Python's recursion gives out before NumPy refuses
    if deep:
        raise invalid(f"Input {name!r}: lists nested {deep} deep; a tensor has at most {MAX_RANK} dimensions.")
    converted = convert(value)
    dtype = object if spec.dtype == tf.string else spec.dtype.as_numpy_dtype
    try:
        array = np.array(converted, dtype=dtype)
    except (ValueError, OverflowError) as e:
        raise invalid(f"Input {name!r}: ragged or out-of-range values ({e}).") from None
    check_array(array, spec, name)
    return array


def check_array(array: np.ndarray, spec: tf.TensorSpec, name: str) -> None:
    """`ServeError` unless `array` can be the signature input `spec`: texts for a string input,
    numbers for a numeric one, and the spec's rank and fixed dimensions (a gRPC client sends any tensor)."""
    if (spec.dtype == tf.string) != (array.dtype.kind in "OSU"):
        raise invalid(f"Expects arg {name!r} to be {spec.dtype.name} but {array.dtype} is provided.")
    if spec.shape.rank is not None:
        expected = spec.shape.as_list()
        if array.ndim != len(expected) or any(e is not None and e != a for e, a in zip(expected, array.shape)):
            shape = "[" + ", ".join("-1" if d is None else str(d) for d in expected) + "]"
            raise invalid(f"Input {name!r}: expecting shape {shape} but got {list(array.shape)}.")


def plain_binary_inputs(body, specs: dict[str, tf.TensorSpec]) -> list[str]:
    """Inputs named `*_bytes` (binary by TF Serving's convention) that a REST body gives as plain strings,
    not `{"b64": ...}`: an image sent as its base64 text, which the model then cannot decode."""
    binary = [n for n, s in specs.items() if n.endswith("_bytes") and s.dtype == tf.string]
    if not binary or not isinstance(body, dict):
        return []
    values = body.get("instances", body.get("inputs"))

    def plain(value) -> bool:
        return isinstance(value, str) or (isinstance(value, list) and any(plain(v) for v in value))

    if isinstance(values, dict) and "b64" not in values:  # columns by name
        return [n for n in binary if plain(values.get(n))]
    if isinstance(values, list) and values and all(isinstance(v, dict) and "b64" not in v for v in values):
        return [n for n in binary if any(plain(v.get(n)) for v in values)]  # rows by name
    return binary[:1] if len(specs) == 1 and plain(values) else []


def parse_predict_body(body, specs: dict[str, tf.TensorSpec]) -> tuple[dict[str, np.ndarray], bool]:
    """The input arrays of a REST predict request, and whether it was in row format.

    Args:
        body: The parsed JSON object.
        specs: The signature's inputs, name -> `tf.TensorSpec`.
    """
    if not isinstance(body, dict):
        raise invalid("JSON Value: request body is not an object; send {\"instances\": [...]} or {\"inputs\": ...}.")
    if "instances" in body and "inputs" in body:
        raise invalid("Not formatted correctly expecting only one of 'inputs' or 'instances' keys to exist")
    names = sorted(specs)
    if "instances" in body:
        instances = body["instances"]
        if not isinstance(instances, list):
            raise invalid("Expecting 'instances' to be an list/array")
        if not instances:
            raise invalid("No values in 'instances' array")
        named = all(isinstance(i, dict) and "b64" not in i for i in instances)
        if len(names) > 1 and not named:
            raise invalid("instances is a plain list, but expecting list of objects as multiple input tensors "
                          f"required as per tensorinfo_map ({', '.join(names)})")
        if named:
            for n, instance in enumerate(instances):
                if sorted(instance) != names:
                    raise invalid(f"Failed to process element: {n} of 'instances' list. JSON object: "
                                  f"{_short(instance)} keys must be equal to: {','.join(names)}")
            columns = {name: [i[name] for i in instances] for name in names}
        else:
            columns = {names[0]: instances}
        return {name: _tensor(columns[name], specs[name], name) for name in names}, True
    if "inputs" in body:
        inputs = body["inputs"]
        if isinstance(inputs, dict) and "b64" not in inputs:
            missing = [n for n in names if n not in inputs]
            extra = [n for n in inputs if n not in specs]
            if missing or extra:
                raise invalid(f"Missing named input: {missing[0]} in 'inputs' object." if missing else
                              f"Unknown input {extra[0]!r} in 'inputs' object; the signature takes {', '.join(names)}.")
            return {name: _tensor(inputs[name], specs[name], name) for name in names}, False
        if len(names) > 1:
            raise invalid("inputs is a plain value/list, but expecting an object as multiple input tensors "
                          f"required as per tensorinfo_map ({', '.join(names)})")
        return {names[0]: _tensor(inputs, specs[names[0]], names[0])}, False
    raise invalid("Missing 'inputs' or 'instances' key")


def batch_size(inputs: dict[str, np.ndarray]) -> int:
    sizes = {a.shape[0] if a.ndim else 1 for a in inputs.values()}
    if len(sizes) != 1:
        raise invalid(f"Inputs have different 0-th dimensions {sorted(sizes)}; they must be equal to batch them.")
    size = sizes.pop()
    if size == 0:
        raise invalid("The request holds no examples (an empty batch).")
    return size


def _json_value(value, binary: bool):
    if isinstance(value, bytes):
        if binary:
            return {"b64": base64.b64encode(value).decode("ascii")}
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return {"b64": base64.b64encode(value).decode("ascii")}
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    return value


def _to_list(array: np.ndarray, binary: bool):
    if array.dtype == object:
        return _nested(array.tolist(), binary)
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        return _nested(array.tolist(), binary)
    return array.tolist()


def _nested(value, binary):
    if isinstance(value, list):
        return [_nested(v, binary) for v in value]
    return _json_value(value, binary)


def format_predict_response(outputs: dict[str, np.ndarray], row_format: bool) -> dict:
    """`{"predictions": ...}` (rows) or `{"outputs": ...}` (columns) for the output arrays."""
    names = sorted(outputs)
    converted = {n: _to_list(outputs[n], n.endswith("_bytes")) for n in names}
    if not row_format:
        return {"outputs": converted[names[0]] if len(names) == 1 else converted}
    if len(names) == 1:
        return {"predictions": converted[names[0]]}
    sizes = {len(v) if isinstance(v, list) else 1 for v in converted.values()}
    if len(sizes) != 1:
        raise ServeError("INVALID_ARGUMENT", "Output tensors have different 0-th dimensions; "
                                             "use the columnar format ({\"inputs\": ...}).")
    return {"predictions": [{n: converted[n][i] for n in names} for i in range(sizes.pop())]}
