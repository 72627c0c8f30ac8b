"""`models.config` as TF Serving reads it: which models, where, which versions, and version labels.

TF Serving's `--model_config_file` is a `ModelServerConfig` in protobuf text
format. Users keep theirs beside an export (fit-head leaves it alone and
writes `tfxfer.models.config` beside it), with version policies that pin
what production serves and version labels (`stable`, `canary`) that clients
ask for. Serving the export locally with those ignored would answer a
request for `stable` with whatever version is newest, so both files are
read with TF Serving's own proto and honoured:

- `base_path`: the model's folder. A config written for Docker names
  `/models/NAME` with the export mounted at `/models`, so a path that does
  not exist here is looked up by its last part under the export directory.
- `model_version_policy`: `latest { num_versions: N }`, `all {}` or
  `specific { versions: ... }`. Where none is stated TF Serving loads only
  the latest version; tfxfer serve the latest few (`--latest-versions`), so
  that the page and `/versions/N` can compare them, and says so once.
- `version_labels`: `/v1/models/NAME/labels/LABEL` and gRPC's
  `model_spec.version_label`, answered by the version the label names.

A config pushed over gRPC (`ModelService.HandleReloadConfigRequest`) is read
the same way (`entries_of`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from pathlib import Path

from google.protobuf import text_format
from tensorflow_serving.config import model_server_config_pb2

from tfxfer.errors import DataError

# The user's config first: where both name a model, theirs says how it is served.
CONFIG_FILES = ("models.config", "tfxfer.models.config")


@dataclasses.dataclass(frozen=True)
class ModelEntry:
    """One model of a config.

    Args:
        name: The model's name in URLs and `model_spec.name`.
        folder: Where its `VERSION/` folders are.
        policy: `"latest"`, `"all"` or `"specific"`; `None` where the config states none.
        versions: `latest`: how many of the highest; `specific`: which.
        labels: Version label -> version number.
        config: The file that named it, or what else did.
    """

    name: str
    folder: Path
    policy: str | None = None
    versions: tuple[int, ...] = ()
    labels: dict[str, int] = dataclasses.field(default_factory=dict, hash=False)
    config: Path | str | None = None

    def chosen(self, on_disk: Iterable[int], latest: int = 0) -> set[int]:
        """The versions of `on_disk` to serve: those of the policy; where it states none, the `latest`
        highest (`0`: all)."""
        on_disk = sorted(on_disk)
        if self.policy == "latest":
            latest = max(self.versions[0], 1)  # as TF Serving: `latest {}` is the latest one
        elif self.policy == "specific":
            return set(on_disk) & set(self.versions)
        elif self.policy == "all":
            latest = 0
        return set(on_disk[-latest:] if latest else on_disk)


def _folder(base_path: str, name: str, export_dir: Path) -> Path:
    """Where `base_path` is on this machine: itself, or (a Docker mount point) its last part in `export_dir`."""
    path = Path(base_path) if base_path else Path(name)
    if not path.is_absolute():
        path = export_dir / path
    return path if path.is_dir() else export_dir / (path.name or name)


def _entry(config, export_dir: Path, source: Path | str) -> ModelEntry:
    kind = config.model_version_policy.WhichOneof("policy_choice")
    versions: tuple[int, ...] = ()
    if kind == "latest":
        versions = (config.model_version_policy.latest.num_versions,)
    elif kind == "specific":
        versions = tuple(config.model_version_policy.specific.versions)
    return ModelEntry(name=config.name, folder=_folder(config.base_path, config.name, export_dir), policy=kind,
                      versions=versions, labels=dict(config.version_labels), config=source)


def read_config(path: Path, export_dir: Path) -> list[ModelEntry]:
    """The models one config file lists. `DataError` naming the file where TF Serving would refuse it."""
    proto = model_server_config_pb2.ModelServerConfig()
    try:
        text_format.Parse(path.read_text(encoding="utf-8"), proto)
    except OSError as e:
        raise DataError(f"Cannot read {path}: {e.strerror or e}.") from None
    except (text_format.ParseError, UnicodeDecodeError) as e:
        raise DataError(f"{path} is not a TF Serving model config ({e}); TF Serving would refuse it too. Fix it, "
                        "or move it out of the export directory.") from None
    return entries_of(proto, export_dir, path)


def entries_of(proto, export_dir: Path, source: Path | str) -> list[ModelEntry]:
    """The models a `ModelServerConfig` lists. `DataError` naming `source` where TF Serving would refuse it."""
    if proto.WhichOneof("config") != "model_config_list":
        raise DataError(f"{source} holds no model_config_list; tfxfer serve reads the models listed there "
                        "(model_config_list { config { name: ... } }).")
    names = [c.name for c in proto.model_config_list.config]
    if "" in names or len(set(names)) < len(names):
        raise DataError(f"{source}: every config needs a name, each once (it has "
                        f"{', '.join(repr(n) for n in names)}).")
    return [_entry(c, export_dir, source) for c in proto.model_config_list.config]


def read_model_configs(export_dir: Path) -> dict[str, ModelEntry] | None:
    """The models `models.config` and `tfxfer.models.config` list, by name; `None` where there is neither."""
    paths = [export_dir / name for name in CONFIG_FILES if (export_dir / name).is_file()]
    if not paths:
        return None
    entries: dict[str, ModelEntry] = {}
    for path in paths:
        for entry in read_config(path, export_dir):
            entries.setdefault(entry.name, entry)
    return entries
