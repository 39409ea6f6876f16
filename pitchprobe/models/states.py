"""Stage 3 on disk: hidden states of chosen layers for chosen utterances.

The probe never needs this (it consumes states as they are produced); it is
for users who want the states themselves. One ``<id>.npz`` per utterance:

- ``layer_<l>``: float32 (T, D), real frames only;
- ``frame_centres_s``: float64 (T,), centre of each frame in seconds;
- ``layers``: int64, the layers stored.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pitchprobe.core.atomic import atomic_path
from pitchprobe.core.audio import SAMPLING_RATE, load_audio
from pitchprobe.core.errors import AudioError, PitchProbeError
from pitchprobe.core.layout import states_dir
from pitchprobe.data.manifest import read_manifest
from pitchprobe.models.base import Backend


def dump_states(
    code: str,
    *,
    root: Path,
    backend: Backend,
    split: str = "test",
    layers: list[int] | None = None,
    ids: list[str] | None = None,
    limit: int | None = None,
    out_dir: Path | None = None,
    fail_fast: bool = False,
    progress: bool = True,
) -> tuple[list[Path], list[dict]]:
    """Write states of ``layers`` (default all) for utterances of ``split``; skip files already written.

    Returns the paths written or found, and the failures (``{"id", "reason", "message"}``).
    """
    from tqdm.auto import tqdm

    layers = list(range(backend.num_layers)) if layers is None else layers
    bad = [layer for layer in layers if not 0 <= layer < backend.num_layers]
    if bad:
        raise PitchProbeError(f"{backend.name} has layers 0..{backend.num_layers - 1}; asked for {bad}")
    records = read_manifest(root, code, splits=(split,))
    if ids:
        known = {r["id"] for r in records}
        missing = [i for i in ids if i not in known]
        if missing:
            raise PitchProbeError(f"ids not in the {split} split of {code}: {missing}")
        records = [r for r in records if r["id"] in set(ids)]
    records = records[:limit] if limit else records
    out_dir = out_dir or states_dir(root, backend.tag, code, split)
    written, failures = [], []
    for rec in tqdm(records, desc=f"states {code}/{split}", unit="utt", disable=not progress):
        path = out_dir / f"{rec['id']}.npz"
        if path.is_file():
            written.append(path)
            continue
        try:
            wav = load_audio(rec["path"])
        except AudioError as e:
            if fail_fast:
                raise PitchProbeError(f"--fail-fast: {e}") from e
            failures.append({"id": rec["id"], "reason": e.reason, "message": str(e)})
            continue
        (states,) = backend.forward([wav])
        arrays = {f"layer_{layer}": states[layer].float().cpu().numpy() for layer in layers}
        n = int(states[0].shape[0])
        arrays["frame_centres_s"] = backend.grid.centres(n) / SAMPLING_RATE
        arrays["layers"] = np.asarray(layers, dtype=np.int64)
        with atomic_path(path) as tmp:
            np.savez(tmp, **arrays)
        written.append(path)
    return written, failures
