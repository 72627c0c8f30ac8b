"""TF Serving companions of an export: `models.config` and a README with requests."""

from __future__ import annotations

from pathlib import Path

from tfxfer.atomic import write_text_atomic
from tfxfer.export.saved_model import FLOAT_IMAGES_SIGNATURE, existing_versions


def models_config(export_dir: Path) -> str:
    """A `--model_config_file` listing every model under `export_dir` (mounted at /models)."""
    names = sorted(p.name for p in export_dir.iterdir() if p.is_dir() and existing_versions(p))
    entries = "".join(
        f"  config {{\n    name: '{name}'\n    base_path: '/models/{name}'\n    model_platform: 'tensorflow'\n  }}\n"
        for name in names
    )
    return f"model_config_list {{\n{entries}}}\n"


def serving_readme(name: str, kind: str, image_size: tuple[int, int] | None = None) -> str:
    if kind == "image":
        h, w = image_size or ("height", "width")
        request = (
            "curl -X POST http://localhost:8501/v1/models/{name}:predict \\\n"
            "  -d \"{{\\\"instances\\\": [{{\\\"b64\\\": \\\"$(base64 -w0 photo.jpg)\\\"}}]}}\""
        ).format(name=name)
        inputs = (
            "`serving_default` takes `image_bytes`: tf.string `[batch]`, encoded JPEG/PNG/GIF/BMP, "
            "sent as `{\"b64\": \"...\"}` in JSON; the model decodes and resizes in the graph. "
            f"`{FLOAT_IMAGES_SIGNATURE}` takes `images`: float32 `[batch, {h}, {w}, 3]`, RGB in [0, 1]."
        )
    else:
        request = (
            f"curl -X POST http://localhost:8501/v1/models/{name}:predict \\\n"
            "  -d '{\"instances\": [\"a first text\", \"another text\"]}'"
        )
        inputs = "`serving_default` takes `text`: tf.string `[batch]`, raw text (tokenized in the graph)."
    return f"""# Serving `{name}` with TensorFlow Serving

{inputs} Outputs: `scores` float32 `[batch, classes]` (class order in
`{name}/VERSION/assets/labels.txt`) and `classes`, the top label.
The highest version under `{name}/` is served.

CPU:

```bash
docker run --rm -p 8500:8500 -p 8501:8501 -v "$PWD:/models" tensorflow/serving \\
  --model_config_file=/models/models.config
```

GPU (NVIDIA Container Toolkit):

```bash
docker run --rm --gpus all -p 8500:8500 -p 8501:8501 -v "$PWD:/models" tensorflow/serving:latest-gpu \\
  --model_config_file=/models/models.config
```

Run these in this directory. A REST request:

```bash
{request}
```

The answer is `{{"predictions": [{{"scores": [...], "classes": "..."}}, ...]}}`.
Inspect the model with `saved_model_cli show --dir {name}/VERSION --all`.
"""


def write_serving_files(export_dir: Path, name: str, kind: str, image_size: tuple[int, int] | None = None) -> None:
    write_text_atomic(export_dir / "models.config", models_config(export_dir))
    write_text_atomic(export_dir / "README.md", serving_readme(name, kind, image_size))
