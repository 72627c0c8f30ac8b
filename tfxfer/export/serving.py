"""TF Serving companions of an export: `models.config` and a README with requests."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from pathlib import Path

from tfxfer.atomic import write_text_atomic
from tfxfer.errors import DataError
from tfxfer.export.model_config import ModelEntry, read_config
from tfxfer.export.saved_model import FLOAT_IMAGES_SIGNATURE, TPU_FUNCTION, existing_versions
from tfxfer.layout import LABELS_FILE, read_fit_report

logger = logging.getLogger(__name__)

# The kind of a model folder in an export that tfxfer did not write (a SavedModel of the user's).
OTHER = "other"


def model_names(export_dir: Path) -> list[str]:
    """The models under `export_dir`: folders holding at least one version."""
    return sorted(p.name for p in export_dir.iterdir() if p.is_dir() and existing_versions(p))


def models_config(names: list[str]) -> str:
    """A `--model_config_file` listing the models `names` (mounted at /models)."""
    entries = "".join(
        f"  config {{\n    name: '{name}'\n    base_path: '/models/{name}'\n    model_platform: 'tensorflow'\n  }}\n"
        for name in names
    )
    return f"model_config_list {{\n{entries}}}\n"


def _model_section(name: str, kind: str, image_size: tuple[int, int] | None = None, version: int = 1,
                   op_library: str | None = None) -> str:
    if kind == OTHER:
        return (f"## `{name}`\n\nNot exported by tfxfer: `saved_model_cli show --dir {name}/{version} --all` lists "
                "what its signatures take and give. TF Serving and `tfxfer serve` serve it as any SavedModel.\n")
    if kind == "image":
        h, w = image_size or ("height", "width")
        request = (
            "curl -X POST http://localhost:8501/v1/models/{name}:predict \\\n"
            "  -d \"{{\\\"instances\\\": [{{\\\"b64\\\": \\\"$(base64 -w0 photo.jpg)\\\"}}]}}\""
        ).format(name=name)
        inputs = (
            "`serving_default` takes `image_bytes`: tf.string `[batch]`, encoded JPEG/PNG/GIF/BMP/WebP, "
            "sent as `{\"b64\": \"...\"}` in JSON; the model decodes and resizes in the graph. "
            f"`{FLOAT_IMAGES_SIGNATURE}` takes `images`: float32 `[batch, {h}, {w}, 3]`, RGB in [0, 1]."
        )
        argument = 'image_bytes=tf.constant([open("photo.jpg", "rb").read()])'
    else:
        request = (
            f"curl -X POST http://localhost:8501/v1/models/{name}:predict \\\n"
            "  -d '{\"instances\": [\"a first text\", \"another text\"]}'"
        )
        inputs = "`serving_default` takes `text`: tf.string `[batch]`, raw text (tokenized in the graph)."
        argument = 'text=tf.constant(["a first text", "another text"])'
    # TF Serving has TensorFlow Text's ops built in; TensorFlow has them once tensorflow_text is imported.
    needs, imports = ("TensorFlow and TensorFlow Text, whose ops its feature module uses",
                      f"\nimport {op_library}  # registers the ops of the module's tokenizer") if op_library \
        else ("TensorFlow alone", "")
    return f"""## `{name}`

{inputs} Outputs: `scores` float32 `[batch, classes]` (calibrated; class order in
`{name}/VERSION/assets/labels.txt`), `classes`, the top score's label, and
`probabilities`, as `scores` but corrected for how common each class was in
the training labels (the chance each class is right; the same as `scores`
when the classes were of one size).
The highest version under `{name}/` is served. A REST request:

```bash
{request}
```

The answer is `{{"predictions": [{{"scores": [...], "classes": "...", "probabilities": [...]}}, ...]}}`.
Inspect the model with `saved_model_cli show --dir {name}/VERSION --all`.

In Python, with {needs} (the latest version is {version}):

```python
import tensorflow as tf{imports}

model = tf.saved_model.load("{name}/{version}")
outputs = model.signatures["serving_default"]({argument})
print(outputs["classes"].numpy(), outputs["scores"].numpy())
```

In a Keras 3 model: `keras.layers.TFSMLayer("{name}/{version}", call_endpoint="serving_default")`
returns the same dict.
"""


def serving_readme(models: list[tuple[str, str, tuple[int, int] | None, int, str | None]],
                   config_file: str = "models.config", unlisted: Sequence[str] = ()) -> str:
    """The export's README: how to serve every model it holds (`(name, kind, image_size, latest version,
    op_library)`).

    Args:
        models: One tuple per model.
        config_file: The config the commands give TF Serving. Defaults to `"models.config"`.
        unlisted: Models a `models.config` of the user's does not list (said, with the fix).
    """
    sections = "\n".join(_model_section(*m) for m in models)
    names = ", ".join(f"`{m[0]}`" for m in models)
    name, version = models[0][0], models[0][3]  # the TPU example's
    if unlisted:
        missing = ", ".join(f"`{n}`" for n in unlisted)
        listed = (f"`models.config` here is not tfxfer's and does not list {missing}: the commands below give "
                  f"TF Serving `{config_file}`, which lists every model here. Add {missing} to your "
                  "`models.config` to serve them beside your other models.")
    else:
        listed = f"Every model listed in `{config_file}` is served."
    return f"""# Serving {names} with TensorFlow Serving

{listed} Locally, without Docker:
`tfxfer serve .` answers the same REST and gRPC requests.

CPU:

```bash
docker run --rm -p 8500:8500 -p 8501:8501 -v "$PWD:/models" tensorflow/serving \\
  --model_config_file=/models/{config_file}
```

GPU (NVIDIA Container Toolkit):

```bash
docker run --rm --gpus all -p 8500:8500 -p 8501:8501 -v "$PWD:/models" tensorflow/serving:latest-gpu \\
  --model_config_file=/models/{config_file}
```

Run these in this directory.

TPU: convert a version with the Cloud TPU Inference Converter first
(https://cloud.google.com/tpu/docs/v5e-inference-converter; `$CONVERTER_IMAGE` is
its Docker image), telling it to place the function this export marks for the TPU:

```bash
docker run --rm -v "$PWD/{name}/{version}:/tmp/input:ro" -v "$PWD/tpu/{name}/{version}:/tmp/output" \\
  $CONVERTER_IMAGE --input_model_dir=/tmp/input --output_model_dir=/tmp/output \\
  --converter_options_string='tpu_functions {{ function_alias: "{TPU_FUNCTION}" }}'
```

`{TPU_FUNCTION}` is the model's float math: for an image model the feature module and
the head, from decoded images to `scores` and `probabilities`; for a text model the
head, from feature vectors (a BERT-style encoder and the head, from token ids and the
word and n-gram columns, if any). Decoding images, tokenizing text and naming the class
stay on the host's CPU, as TPU serving requires of string ops. Serve `tpu/{name}` with
a TPU build of TF Serving on the TPU VM.

{sections}"""


def _model_kind(version_dir: Path) -> tuple[str, tuple[int, int] | None, str | None]:
    """`(kind, image_size, op_library)` of an export, from its fit report (text when unknown; `OTHER` for a
    SavedModel without labels, which tfxfer did not export)."""
    module = read_fit_report(version_dir).get("feature_module")
    if not isinstance(module, dict) or "kind" not in module:
        return ("text" if (version_dir / "assets" / LABELS_FILE).is_file() else OTHER), None, None
    size = tuple(module["image_size"]) if module.get("image_size") else None
    return module["kind"], size, module.get("op_library")


def _written_by_tfxfer(path: Path) -> bool:
    """Whether `path`, a `models.config` or `README.md`, is one an export wrote (or there is none)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return True
    except (OSError, UnicodeDecodeError):
        return False
    if path.suffix == ".config":  # ours is exactly what models_config writes for the models it names
        return text == models_config(re.findall(r"name: '([^']+)'", text))
    return text.startswith("# Serving ") and "`tfxfer serve .`" in text


def write_serving_files(export_dir: Path) -> Path:
    """(Re)write `models.config` and `README.md` for every model under `export_dir`.

    A file of that name that an export did not write (the README of a project given as `--out`, a
    `models.config` of the user's with version policies or other models) is left as it is, and
    ours is written beside it, as `tfxfer.models.config` or `README.tfxfer.md`, with a warning.

    Returns:
        The README written.
    """
    names = model_names(export_dir)
    latest = {n: existing_versions(export_dir / n)[-1] for n in names}
    models = []
    for n in names:
        kind, size, library = _model_kind(export_dir / n / str(latest[n]))
        models.append((n, kind, size, latest[n], library))
    ours = {name: _written_by_tfxfer(export_dir / name) for name in ("models.config", "README.md")}
    users = None if ours["models.config"] else _read_users_config(export_dir)
    unlisted = [n for n in names if users is not None and n not in users]
    readme = serving_readme(models, "tfxfer.models.config" if unlisted else "models.config", unlisted)
    written = {}
    for name, beside, text in (("models.config", "tfxfer.models.config", models_config(names)),
                               ("README.md", "README.tfxfer.md", readme)):
        path = export_dir / name
        if not ours[name]:
            logger.warning("%s was not written by tfxfer: left as it is; the export's is %s.", path,
                           export_dir / beside)
            path = export_dir / beside
        write_text_atomic(path, text)
        written[name] = path
    for name in names:
        if users and name in users:
            _check_users_entry(users[name], latest[name], export_dir / "models.config", export_dir / name)
    return written["README.md"]


def _read_users_config(export_dir: Path) -> dict[str, ModelEntry]:
    """The models a `models.config` of the user's lists (none where TF Serving could not read it: warned)."""
    try:
        return {e.name: e for e in read_config(export_dir / "models.config", export_dir)}
    except DataError as e:
        logger.warning("%s", e)
        return {}


def _check_users_entry(entry: ModelEntry, version: int, config: Path, written: Path) -> None:
    """Warn where the user's config, which TF Serving will read, does not serve the version just written:
    it serves the model from another folder, or pins other versions."""
    if entry.folder.resolve() != written.resolve():
        logger.warning("%s serves %s from %s, not from %s where version %d was written: TF Serving and tfxfer "
                       "serve keep answering with the versions there.", config, entry.name, entry.folder,
                       written, version)
        return
    if entry.policy != "specific":
        return
    served = sorted(entry.chosen(existing_versions(entry.folder)))
    if version not in served:
        logger.warning("%s serves only versions %s of %s (its version policy): version %d, just written, is "
                       "not served by TF Serving or tfxfer serve until you add it there.", config,
                       ", ".join(map(str, served)) or "none", entry.name, version)
