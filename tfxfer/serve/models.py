"""The models a server serves: found, loaded and reloaded as TF Serving does.

An export directory holds `NAME/VERSION/` SavedModels (and `models.config`,
which names them, with version policies and labels where the user's says so:
`export.model_config`). The latest few versions of each model are loaded
(`latest_versions`), or those a policy names; the highest is served by
default. The directory is polled: a new version is loaded and served without
a restart once its files have stopped changing for a poll (a version copied
in with `cp -r` is not read half-copied), a removed one is unloaded, and one
that fails to load is reported (its status says why) while the others keep
serving, and loaded again when its files change. Names and versions are
only ever matched against what was found on disk, never used to build paths.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import tensorflow as tf
from google.protobuf import any_pb2
from tensorflow.core.protobuf import saved_model_pb2
from tensorflow_serving.apis import get_model_metadata_pb2, get_model_status_pb2, model_pb2

from tfxfer import config
from tfxfer.errors import DataError, op_error_reason
from tfxfer.export.model_config import ModelEntry, entries_of, read_model_configs
from tfxfer.export.saved_model import existing_versions, not_an_export, read_labels
from tfxfer.export.warmup import run_warmup
from tfxfer.features.load import load_saved_model
from tfxfer.serve.batching import Batcher, run_in_parts
from tfxfer.serve.tensors import ServeError, batch_size, check_array

logger = logging.getLogger(__name__)

DEFAULT_SIGNATURE = "serving_default"
# Report files the page may show, by name: nothing else under an export is served.
REPORT_FILES = {"report.json": "application/json", "report.html": "text/html; charset=utf-8",
                "learning_curve.png": "image/png",
                "confusion_matrix.png": "image/png", "reliability.png": "image/png", "mistakes.png": "image/png",
                "unusual.png": "image/png"}
State = get_model_status_pb2.ModelVersionStatus.State


@dataclasses.dataclass
class Version:
    """One loaded (or failed) version of a model."""

    name: str
    number: int
    path: Path
    stamp: tuple
    state: int = State.LOADING
    error: str = ""
    signatures: dict = dataclasses.field(default_factory=dict, repr=False)
    signature_defs: dict = dataclasses.field(default_factory=dict, repr=False)
    labels: list[str] = dataclasses.field(default_factory=list)
    batchers: dict = dataclasses.field(default_factory=dict, repr=False)
    loaded: object = dataclasses.field(default=None, repr=False)

    def input_specs(self, signature: str) -> dict[str, tf.TensorSpec]:
        return dict(self._signature(signature).structured_input_signature[1])

    def _signature(self, signature: str):
        if signature not in self.signatures:
            raise ServeError("INVALID_ARGUMENT", f"Serving signature name: \"{signature}\" not found in signature "
                                                 f"def (model {self.name}, version {self.number}; it has "
                                                 f"{', '.join(sorted(self.signatures))}).")
        return self.signatures[signature]

    def check_inputs(self, signature: str, inputs: dict[str, np.ndarray]) -> None:
        """`ServeError` unless `inputs` are named as the signature's (before a request joins a batch)."""
        specs = self.input_specs(signature)
        if set(inputs) != set(specs):
            raise ServeError("INVALID_ARGUMENT", f"Input names {sorted(inputs)} do not match the signature's "
                                                 f"{sorted(specs)} ({self.name}, {signature}).")
        for name, spec in specs.items():
            check_array(np.asarray(inputs[name]), spec, name)

    def run(self, signature: str, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Call a signature on arrays (blocking; run it off the event loop)."""
        fn = self._signature(signature)
        specs = self.input_specs(signature)
        try:
            tensors = {name: tf.constant(inputs[name], dtype=spec.dtype) for name, spec in specs.items()}
            outputs = fn(**tensors)
        except (tf.errors.OpError, ValueError, TypeError) as e:
            raise ServeError("INVALID_ARGUMENT", op_error_reason(getattr(e, "message", e))) from None
        return {k: v.numpy() for k, v in outputs.items()}


def _read_signature_defs(path: Path) -> dict:
    """The SavedModel's `signature_def` map, as TF Serving's metadata shows it."""
    proto = saved_model_pb2.SavedModel()
    proto.ParseFromString((path / "saved_model.pb").read_bytes())
    return dict(proto.meta_graphs[0].signature_def)


def _available(versions: dict[int, Version]) -> list[int]:
    return sorted(n for n, v in versions.items() if v.state == State.AVAILABLE)


def _stamp(folder: Path) -> tuple | None:
    """What changes while a version's files are written: their names, sizes and times (`None`: changing now)."""
    try:
        return tuple(sorted((str(p.relative_to(folder)), s.st_size, s.st_mtime_ns)
                            for p in folder.rglob("*") for s in [p.stat()] if p.is_file()))
    except OSError:
        return None


def _versions_on_disk(export_dir: Path, entries: dict[str, ModelEntry] | None,
                      latest: int) -> dict[tuple[str, int], Path]:
    """`(name, version) -> path` of the versions to serve: of the models the configs list (every
    `NAME/` where there is none), those their policy chooses, else the `latest` highest."""
    if entries is None:
        entries = {p.name: ModelEntry(p.name, p) for p in sorted(export_dir.iterdir())
                   if p.is_dir() and not p.name.startswith(".")}
    found = {}
    for entry in entries.values():
        found.update({(entry.name, n): entry.folder / str(n)
                      for n in entry.chosen(existing_versions(entry.folder), latest)})
    return found


def _check_export_dir(path: Path) -> None:
    """Refuse folders that are not an export's --out: a version, a model, a feature module, word vectors."""
    reason = not_an_export(path)
    if reason:
        raise ServeError("INVALID_ARGUMENT", f"{reason} Then serve EXPORT_DIR.")
    if (path / "saved_model.pb").is_file() or any(p.name.isdigit() for p in path.iterdir() if p.is_dir()):
        raise ServeError("INVALID_ARGUMENT", f"{path} is a model or version folder; serve the "
                                             "export directory above it (the --out of fit-head).")


class Registry:
    """Every model under an export directory, its versions, and their batchers.

    Args:
        export_dir: The `--out` of fit-head.
        batching: Merge concurrent requests into one model call.
        max_batch_size: Most examples per merged call.
        batch_timeout: Seconds a batch waits for more requests once the model is free.
        poll_seconds: How often the directory is scanned for new versions.
        latest_versions: How many of each model's highest versions to serve where no
            config policy says (`config.ServeConfig`); `0`: all.
    """

    def __init__(self, export_dir: str | Path, *, batching: bool = True, max_batch_size: int = 64,
                 batch_timeout: float = 0.0, poll_seconds: float = 1.0, threads: int = 2,
                 latest_versions: int = config.SERVE.latest_versions):
        self.export_dir = Path(export_dir)
        _check_export_dir(self.export_dir)
        self.batching, self.max_batch_size, self.batch_timeout = batching, max_batch_size, batch_timeout
        self.poll_seconds, self.latest_versions = poll_seconds, latest_versions
        self.models: dict[str, dict[int, Version]] = {}
        self.ready = False
        self.executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="model")
        self._lock = threading.Lock()
        self.configs = read_model_configs(self.export_dir)  # a config TF Serving would refuse stops us too
        self._scanned = False
        self._settling: dict[tuple[str, int], tuple] = {}  # versions seen changing at the last poll
        self._config_error = ""
        self._pushed: dict[str, ModelEntry] | None = None  # a config pushed over gRPC: the files' until a restart
        self._loading = threading.Lock()  # one scan and load at a time: the poller's, or a pushed config's

    # --- loading -------------------------------------------------------------------

    def _load(self, version: Version) -> None:
        try:
            loaded = load_saved_model(version.path)
            version.signatures = {k: v for k, v in loaded.signatures.items()}
            version.signature_defs = _read_signature_defs(version.path)
            version.labels = read_labels(version.path)
            version.loaded = loaded  # keeps the variables the signatures read alive

            def warm(signature, inputs):  # a request of the file, checked as a client's is
                version.check_inputs(signature, inputs)
                return version.run(signature, inputs)

            try:  # as TF Serving does: the first real request is then as fast as the next
                warmed = run_warmup(version.path, warm)
            except ServeError as e:
                raise ValueError(f"its warmup request failed: {e.message}") from None
            logger.info("Serving %s version %d from %s%s", version.name, version.number, version.path,
                        f" (warmed up with {warmed} requests)" if warmed else "")
            version.state = State.AVAILABLE  # after the log line: a client that sees the state finds it logged
        except Exception as e:  # noqa: BLE001 - a broken version must not stop the server
            error = str(getattr(e, "message", e)).strip().splitlines()[0]
            logger.error("Cannot load %s version %d (%s): %s; earlier versions keep serving, and it is loaded "
                         "again when its files change.", version.name, version.number, version.path,
                         error.rstrip("."))
            version.state, version.error = State.END, error

    def _reread_configs(self) -> None:
        """The configs as they are now; while one is broken (being edited), the last good ones."""
        if self._pushed is not None:
            self.configs = self._pushed
            return
        try:
            self.configs = read_model_configs(self.export_dir)
            self._config_error = ""
        except DataError as e:
            if str(e) != self._config_error:
                logger.warning("%s Serving as before meanwhile.", e)
            self._config_error = str(e)

    def scan(self, settle: bool = True) -> list[Version]:
        """Find new, changed and removed versions; return the new and changed ones (not yet loaded).

        Those found after the first scan are returned once their files are as they were at the
        previous scan: a version being copied in is loaded when the copy is done, not half-way
        (`settle=False`: at once, as the versions a pushed config names)."""
        self._reread_configs()
        on_disk = _versions_on_disk(self.export_dir, self.configs, self.latest_versions)
        new = []
        settling, self._settling = self._settling, {}
        with self._lock:
            for (name, number), path in on_disk.items():
                stamp = _stamp(path)
                known = self.models.get(name, {}).get(number)
                if known is not None and known.stamp == stamp:
                    continue
                if stamp is None or (settle and self._scanned and settling.get((name, number)) != stamp):
                    self._settling[name, number] = stamp  # new or changed (--overwrite, a copy under way)
                else:
                    version = Version(name, number, path, stamp)
                    self.models.setdefault(name, {})[number] = version if known is None else known
                    new.append(version)
            for name, versions in list(self.models.items()):
                # As TF Serving's availability-preserving policy: a version the policy no longer
                # chooses is unloaded once one it chooses answers, never leaving the model without one
                # (a model no config lists any more goes whole).
                replaced = any(v.state == State.AVAILABLE for n, v in versions.items() if (name, n) in on_disk)
                dropped = not any(n == name for n, _ in on_disk)
                for number in list(versions):
                    if (name, number) not in on_disk:
                        gone = not (versions[number].path / "saved_model.pb").is_file()
                        if not (gone or replaced or dropped):
                            continue
                        logger.info("Unloading %s version %d: %s.", name, number,
                                    "its folder is gone" if gone else "newer versions or the model config "
                                    "take its place")
                        del versions[number]
                if not versions:
                    del self.models[name]
        self._scanned = True
        return new

    def load_new(self, settle: bool = True) -> int:
        """Scan and load what is new (blocking). Returns how many versions were loaded."""
        count = 0
        with self._loading:
            for version in self.scan(settle):
                self._load(version)
                if version.state == State.AVAILABLE:  # a failed one stays listed with its error
                    with self._lock:
                        self.models.setdefault(version.name, {})[version.number] = version
                    count += 1
        return count

    def reload_config(self, proto) -> None:
        """Serve what `proto`, a `ModelServerConfig` pushed over gRPC, lists, in place of the config files
        until a restart, as TF Serving's `HandleReloadConfigRequest` does; returns once its versions are
        loaded (blocking). `DataError` for a config TF Serving refuses, `ServeError` for a label on a
        version that is not available."""
        pushed = {e.name: e for e in entries_of(proto, self.export_dir, "the config pushed over gRPC")}
        logger.info("Serving the config pushed over gRPC: %s.", ", ".join(pushed) or "no model")
        self._pushed = pushed
        self.load_new(settle=False)
        with self._loading:  # versions the new policies drop, unloaded now that the chosen ones answer
            self.scan(settle=False)
        for entry in pushed.values():
            for number in entry.labels.values():
                if number not in self.available(entry.name):
                    raise ServeError("FAILED_PRECONDITION", f"Request to assign label to version {number} of model "
                                                            f"{entry.name}, which is not currently available for "
                                                            "inference")

    async def start(self) -> None:
        """Load everything, then poll the directory for changes."""
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, self.load_new)
        self.ready = any(self.available(n) for n in self.models)
        if self.configs == {}:
            logger.warning("The model configs in %s list no model: none is served, as by TF Serving.", self.export_dir)
        elif not self.models:
            logger.warning("No model under %s yet: waiting for fit-head to export one there.", self.export_dir)
        elif not self.ready:
            logger.error("No model under %s could be loaded.", self.export_dir)
        self._check_configs()
        self._poller = asyncio.create_task(self._poll())

    def _check_configs(self) -> None:
        """Say once what the configs name that is not here, and which versions are left out."""
        models = self.snapshot()
        for name, versions in models.items():
            entry = (self.configs or {}).get(name)
            folder = entry.folder if entry else self.export_dir / name
            left = len(existing_versions(folder)) - len(versions)
            if left > 0 and (entry is None or entry.policy is None):
                logger.info("Serving the latest %d versions of %s; %d older left on disk (--latest-versions 0 serves "
                            "all; TF Serving serves the latest alone).", len(versions), name, left)
        for entry in (self.configs or {}).values():
            if entry.name not in models:
                logger.warning("%s lists %s, but %s holds no version of it.", entry.config, entry.name, entry.folder)
            for label, number in entry.labels.items():
                if number not in self.available(entry.name):
                    logger.warning("%s labels version %d of %s %r, but that version is not served; TF Serving "
                                   "would refuse the config.", entry.config, number, entry.name, label)

    async def _poll(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.poll_seconds)
            try:
                await loop.run_in_executor(None, self.load_new)
                self.ready = self.ready or any(self.available(n) for n in self.models)
            except OSError as e:
                logger.warning("Cannot scan %s: %s", self.export_dir, e)

    async def stop(self) -> None:
        poller = getattr(self, "_poller", None)
        if poller:
            poller.cancel()
        self.executor.shutdown(wait=True)

    # --- lookup --------------------------------------------------------------------

    def _versions(self, name: str) -> dict[int, Version] | None:
        """Model `name`'s versions as they are now (`None`: no such model), to read while scans go on."""
        with self._lock:  # a scan in the poller's thread may be adding or removing versions
            versions = self.models.get(name)
            return None if versions is None else dict(versions)

    def available(self, name: str) -> list[int]:
        return _available(self._versions(name) or {})

    def snapshot(self) -> dict[str, dict[int, Version]]:
        """The models and their versions as they are now, to read while scans go on."""
        with self._lock:
            return {name: dict(versions) for name, versions in self.models.items()}

    def labels(self, name: str) -> dict[str, int]:
        """The version labels the configs give model `name`."""
        entry = (self.configs or {}).get(name)
        return dict(entry.labels) if entry else {}

    def resolve(self, name: str, number: int | None = None, label: str | None = None) -> int | None:
        """The version number a request asks for, by number or label (`None`: the highest available)."""
        if label is None:
            return number
        if number is not None:
            raise ServeError("INVALID_ARGUMENT", f"Both model version ({number}) and model version label "
                                                 f"({label}) cannot be supplied.")
        labels = self.labels(name)
        if label not in labels:
            raise ServeError("INVALID_ARGUMENT", f"Unrecognized servable version label: {label}")
        return labels[label]

    def get(self, name: str, number: int | None = None, label: str | None = None) -> Version:
        """The version asked for (the highest available by default); `NOT_FOUND` otherwise."""
        number = self.resolve(name, number, label)
        versions = self._versions(name) or {}
        if number is None:
            available = _available(versions)
            if not available:
                raise ServeError("NOT_FOUND", f"Servable not found for request: Latest({name})")
            return versions[available[-1]]
        version = versions.get(number)
        if version is None or version.state != State.AVAILABLE:
            raise ServeError("NOT_FOUND", f"Servable not found for request: Specific({name}, {number})")
        return version

    def status(self, name: str, number: int | None = None) -> get_model_status_pb2.GetModelStatusResponse:
        """`GetModelStatusResponse`, as TF Serving's ModelService answers it."""
        versions = self._versions(name)
        if versions is None:
            raise ServeError("NOT_FOUND", f"Could not find any versions of model {name}")
        if number is not None and number not in versions:
            raise ServeError("NOT_FOUND", f"Could not find version {number} of model {name}")
        response = get_model_status_pb2.GetModelStatusResponse()
        for n, version in sorted(versions.items()):
            if number is not None and n != number:
                continue
            status = response.model_version_status.add(version=n, state=version.state)
            status.status.error_code = 0 if version.state != State.END else 13  # OK / INTERNAL
            status.status.error_message = version.error
        return response

    def metadata(self, name: str, number: int | None = None,
                 label: str | None = None) -> get_model_metadata_pb2.GetModelMetadataResponse:
        """`GetModelMetadataResponse` with the `signature_def` map, as TF Serving's."""
        version = self.get(name, number, label)
        signature_map = get_model_metadata_pb2.SignatureDefMap()
        for key, value in version.signature_defs.items():
            signature_map.signature_def[key].CopyFrom(value)
        packed = any_pb2.Any()
        packed.Pack(signature_map)
        response = get_model_metadata_pb2.GetModelMetadataResponse(
            model_spec=model_pb2.ModelSpec(name=name, signature_name=""))
        response.model_spec.version.value = version.number
        response.metadata["signature_def"].CopyFrom(packed)
        return response

    def report_file(self, name: str, number: int, filename: str) -> Path:
        """A report file of a loaded version (only those of `REPORT_FILES`)."""
        version = self.get(name, number)
        if filename not in REPORT_FILES:
            raise ServeError("NOT_FOUND", f"No report file {filename!r}.")
        path = version.path.parent / "reports" / str(version.number) / filename
        if not path.is_file():
            raise ServeError("NOT_FOUND", f"{name} version {number} has no {filename}.")
        return path

    # --- prediction ----------------------------------------------------------------

    async def predict(self, name: str, number: int | None, signature: str, inputs: dict[str, np.ndarray],
                      label: str | None = None) -> tuple[Version, dict[str, np.ndarray]]:
        """Run a request, merged with concurrent ones when batching is on."""
        version = self.get(name, number, label)
        signature = signature or DEFAULT_SIGNATURE
        version.check_inputs(signature, inputs)
        size = batch_size(inputs)
        if not self.batching:  # in parts all the same: memory grows with the batch
            return version, await run_in_parts(functools.partial(version.run, signature), self.executor, inputs,
                                               size, self.max_batch_size)
        batcher = version.batchers.get(signature)
        if batcher is None:
            batcher = version.batchers[signature] = Batcher(
                lambda merged, v=version, s=signature: v.run(s, merged), self.executor,
                self.max_batch_size, self.batch_timeout)
        return version, await batcher.submit(inputs)
