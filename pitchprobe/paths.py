"""Where pitchprobe keeps its data.

One data root holds downloads, manifests, labels and results::

    <data_dir>/
      audio/<code>/<split>/<file>.wav          extracted 16 kHz audio
      manifests/<code>.jsonl                   one record per utterance
      labels/<code>/params.json                pYAAPT settings of these labels
      labels/<code>/<split>/part-*.parquet     F0 labels (Parquet dataset)
      results/<model_tag>/<code>.json          probe results
      results/<model_tag>/<code>.probes.npz
      results/<model_tag>/<code>.predictions.parquet
      states/<model_tag>/<code>/<split>/<id>.npz  (only if asked for)

The root is, in order of precedence: the ``--data-dir`` flag, the
``PITCHPROBE_DATA_DIR`` environment variable, or ``$XDG_DATA_HOME/pitchprobe``
(``~/.local/share/pitchprobe`` when ``XDG_DATA_HOME`` is unset).
Model weights live in the libraries' own caches (Hugging Face, S3PRL/torch hub).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

ENV_DATA_DIR = "PITCHPROBE_DATA_DIR"
SPLITS = ("train", "dev", "test")


def data_dir(explicit: str | os.PathLike | None = None) -> Path:
    """The data root: ``explicit``, else ``$PITCHPROBE_DATA_DIR``, else the XDG default."""
    if explicit:
        return Path(explicit).expanduser().resolve()
    env = os.environ.get(ENV_DATA_DIR)
    if env:
        return Path(env).expanduser().resolve()
    xdg = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return (Path(xdg) / "pitchprobe").resolve()


def audio_dir(root: Path, code: str, split: str) -> Path:
    return root / "audio" / code / split


def manifest_path(root: Path, code: str) -> Path:
    return root / "manifests" / f"{code}.jsonl"


def labels_dir(root: Path, code: str) -> Path:
    return root / "labels" / code


def results_dir(root: Path, model_tag: str) -> Path:
    return root / "results" / model_tag


def states_dir(root: Path, model_tag: str, code: str, split: str) -> Path:
    return root / "states" / model_tag / code / split


def safe_tag(text: str) -> str:
    """A file-name-safe tag for a model spec (``facebook/hubert-base-ls960`` -> ``facebook--hubert-base-ls960``)."""
    text = text.rstrip("/\\")
    if os.sep in text and Path(text).exists():
        text = Path(text).name
    text = text.replace("/", "--")
    return re.sub(r"[^A-Za-z0-9._+-]", "_", text) or "model"
