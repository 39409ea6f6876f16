"""Pooled and leave-one-language-out probes, from each language's train and dev sums kept on disk.

A study's fit pass over a language leaves its per-layer sums (:class:`~pitchprobe.probe.core.SplitSums`
of train and dev) in one ``.npz`` file. The pooled probe is fitted on the sum of every language's
sums; the probe that leaves language L out on the pooled sums minus L's own, so that K languages
cost K + 1 fits and two reads of each file, never a second forward pass. Sums of different passes
are brought to one shift first (:meth:`pitchprobe.probe.ridge.Sums.shifted`, exact algebra).

Each ``XᵀX`` is stored as its upper triangle, in float64 or, to halve the disk, float32
(:data:`SUMS_DTYPES`); everything else is float64. Files hold arrays only (no pickle).
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import torch

from pitchprobe.core.atomic import atomic_path
from pitchprobe.core.errors import PitchProbeError
from pitchprobe.probe import ridge
from pitchprobe.probe.core import N_FRAME_COLUMNS, LayerSums, SplitSums

SUMS_DTYPES = ("float64", "float32")  # storage of each XᵀX's upper triangle
FIELDS = ("sx", "sy", "xty", "yty")
PARTS = ("voiced", "unvoiced", "utterances")  # the LayerSums parts, in LayerSums.of order
FIT_SPLITS = ("train", "dev")


ARRAY_BYTES = 270  # the .npz container's own bytes per array (zip entry and .npy header)


def sums_bytes(hidden_sizes: list[int], *, dtype: str = "float64") -> int:
    """Bytes one language's sums take on disk (train and dev; voiced, unvoiced and utterance parts; every layer)."""
    per = 4 if dtype == "float32" else 8
    q = N_FRAME_COLUMNS
    frame_parts = sum(
        4 * (d * (d + 1) // 2 * per + (d + q * d + 2 * q + 1) * 8 + 6 * ARRAY_BYTES) for d in hidden_sizes
    )
    utterance_parts = sum(2 * (d * (d + 1) // 2 * per + (d + d + 2 + 1) * 8 + 6 * ARRAY_BYTES) for d in hidden_sizes)
    arrays = frame_parts + utterance_parts
    return arrays + sum(8 * d + ARRAY_BYTES for d in hidden_sizes) + 2 * ARRAY_BYTES


def save_sums(
    path: Path, sums: dict[str, SplitSums], *, dtype: str = "float64", fingerprint: dict | None = None
) -> int:
    """Write ``{"train": SplitSums, "dev": SplitSums}`` to ``path`` (atomically); return its size in bytes.

    ``fingerprint`` (what made the sums) is stored with them: :func:`sums_fingerprint` reads it back.
    """
    if dtype not in SUMS_DTYPES:
        raise PitchProbeError(f"unknown sums dtype {dtype!r}; choose one of {', '.join(SUMS_DTYPES)}")
    train = sums["train"]
    arrays: dict[str, np.ndarray] = {"hidden_sizes": np.array(train.hidden_sizes, dtype=np.int64)}
    for layer, x in enumerate(train.layers):
        arrays[f"shift.{layer}"] = x.voiced.shift.cpu().numpy()
    for split in FIT_SPLITS:
        for layer, x in enumerate(sums[split].layers):
            for part in PARTS:
                s: ridge.Sums = getattr(x, part)
                if not torch.equal(s.shift, train.layers[layer].voiced.shift):
                    raise PitchProbeError("train and dev sums must share their shift to be stored together")
                key = f"{split}.{layer}.{part}"
                upper = s._gram.cpu().numpy()[np.triu_indices(s.sx.numel())]
                arrays[f"{key}.gram"] = upper.astype(dtype)
                arrays[f"{key}.n"] = np.array(s.n, dtype=np.int64)
                for f in FIELDS:
                    arrays[f"{key}.{f}"] = getattr(s, f).cpu().numpy()
    meta = {"splits": [s for s in FIT_SPLITS if sums[s].layers], "dtype": dtype, "fingerprint": fingerprint}
    arrays["meta"] = np.array(json.dumps(meta))
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)
    return Path(path).stat().st_size


def sums_fingerprint(path: Path) -> dict | None:
    """The fingerprint stored with the sums in ``path`` (None if there is no readable file)."""
    try:
        with np.load(path, allow_pickle=False) as z:
            return json.loads(str(z["meta"])).get("fingerprint")
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return None


def load_sums(path: Path, *, device: torch.device | str = "cpu") -> dict[str, SplitSums]:
    """Read what :func:`save_sums` wrote: ``{"train": SplitSums, "dev": SplitSums}`` (float64, on ``device``)."""

    def t(a):
        return torch.as_tensor(np.asarray(a, dtype=np.float64), device=device)

    try:
        with np.load(path, allow_pickle=False) as z:
            sizes = [int(d) for d in z["hidden_sizes"]]
            meta = json.loads(str(z["meta"]))
            shifts = [t(z[f"shift.{layer}"]) for layer in range(len(sizes))]
            out = {}
            for split in FIT_SPLITS:
                layers = []
                for layer, d in enumerate(sizes) if split in meta["splits"] else ():
                    parts = []
                    for part in PARTS:
                        key = f"{split}.{layer}.{part}"
                        s = ridge.Sums(d, z[f"{key}.sy"].size, shifts[layer], product_dtype=torch.float64)
                        gram = np.zeros((d, d))
                        gram[np.triu_indices(d)] = z[f"{key}.gram"]
                        s._gram, s.n = t(gram), int(z[f"{key}.n"])
                        for f in FIELDS:
                            setattr(s, f, t(z[f"{key}.{f}"]))
                        parts.append(s)
                    layers.append(LayerSums.of(*parts))
                out[split] = SplitSums.of(sizes, layers)
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as e:
        raise PitchProbeError(f"cannot read the sums in {path}: {type(e).__name__}: {e}") from e
    return out


def _common(sums: dict[str, SplitSums], shifts: list[torch.Tensor]) -> dict[str, SplitSums]:
    own = [x.voiced.shift for x in sums["train"].layers]
    if all(torch.equal(a, b) for a, b in zip(own, shifts)):
        return sums  # the first language's own
    return {split: s.shifted(shifts) if s.layers else s for split, s in sums.items()}


def pool_sums(paths: Iterable[Path], *, device: torch.device | str = "cpu") -> dict[str, SplitSums]:
    """The sum of every file's train and dev sums, about the first file's shifts (one file in memory at a time)."""
    total: dict[str, SplitSums] | None = None
    for path in paths:
        one = load_sums(path, device=device)
        if total is None:
            total = one
            continue
        shifts = [x.voiced.shift for x in total["train"].layers]
        one = _common(one, shifts)
        total = {split: total[split] + one[split] for split in FIT_SPLITS}
    if total is None:
        raise PitchProbeError("no sums to pool")
    return total


def leave_out(pooled: dict[str, SplitSums], path: Path) -> dict[str, SplitSums]:
    """The pooled sums without one language's (its file at ``path``): every other language's."""
    shifts = [x.voiced.shift for x in pooled["train"].layers]
    own = _common(load_sums(path, device=shifts[0].device), shifts)
    return {split: pooled[split] - own[split] for split in FIT_SPLITS}


__all__ = ["SUMS_DTYPES", "leave_out", "load_sums", "pool_sums", "save_sums", "sums_bytes", "sums_fingerprint"]
