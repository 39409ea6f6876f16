"""From files to aligned frames: manifest + labels + audio -> model states -> (features per layer, labels).

This is the file side of the probe. :func:`iter_frames` yields one
:class:`Frames` per usable utterance; the probe core (:mod:`pitchprobe.probe.core`)
consumes them and opens no files. Unusable utterances are recorded in a
:class:`RunState` with their reason.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from pitchprobe.core.align import FrameGrid, align
from pitchprobe.core.audio import SAMPLING_RATE, load_audio
from pitchprobe.core.errors import AudioError, PitchProbeError
from pitchprobe.core.layout import DEFAULT_LABELS, SPLITS
from pitchprobe.data.fleurs import GENDERS
from pitchprobe.data.manifest import read_manifest
from pitchprobe.labels.store import LabelRecord, read_labels
from pitchprobe.models.base import Backend


@dataclass
class SplitCounts:
    utterances: int = 0
    failed: int = 0
    frames: int = 0
    voiced_frames: int = 0
    dropped_frames: int = 0
    masked_frames: int = 0  # label frames not trusted (NaN: consensus labels where the trackers disagree)
    audio_seconds: float = 0.0
    padding_seconds: float = 0.0  # zeros added to batch utterances to the batch's longest


@dataclass
class Failure:
    """An utterance that gave no frames. ``phase`` is ``fit`` (train/dev) or ``score`` (test)."""

    id: str
    split: str
    reason: str
    message: str | None
    language: str | None = None
    phase: str | None = None


@dataclass
class RunState:
    """What a pass over files saw: failures, and counts per split."""

    failures: list[Failure] = field(default_factory=list)
    counts: dict[str, SplitCounts] = field(default_factory=lambda: {s: SplitCounts() for s in SPLITS})

    def fail(self, utt_id: str, split: str, reason: str, message: str | None, *, language: str | None) -> None:
        """Record an unusable utterance; its phase follows from its split."""
        phase = "score" if split == "test" else "fit"
        self.failures.append(Failure(utt_id, split, reason, message, language=language, phase=phase))
        self.counts[split].failed += 1


@dataclass
class Utterance:
    record: dict
    label: LabelRecord


@dataclass
class Frames:
    """One utterance's aligned frames.

    Attributes
    ----------
    id : str
    states : list of torch.Tensor
        Per layer l, (T, D_l) model states of the frames, on the model's device.
    f0 : np.ndarray
        (T,) float64 labels in Hz, 0 = unvoiced.
    label_index : np.ndarray
        (T,) index of each frame in the utterance's label frames.
    centre_samples : np.ndarray
        (T,) int64, where each label frame sits (its placed centre, :func:`label_grid`), samples.
    """

    id: str
    states: list[torch.Tensor]
    f0: np.ndarray
    label_index: np.ndarray
    centre_samples: np.ndarray


def load_records(root: Path, code: str, splits: tuple[str, ...], *, gender: str = "all") -> list[dict]:
    """Manifest records of ``splits``, keeping only speakers of ``gender`` (``all``, ``female``, ...)."""
    want = GENDERS[gender]
    return [r for r in read_manifest(root, code, splits=splits) if want is None or r.get("gender") == want]


def utterances(
    root: Path,
    code: str,
    split: str,
    records: list[dict],
    state: RunState,
    *,
    fail_fast: bool = False,
    labels: str = DEFAULT_LABELS,
) -> list[Utterance]:
    """Records of ``split`` that have usable ``labels`` (a tracker's, or ``consensus``); the rest are recorded
    as failures (raised with ``fail_fast``)."""
    rows = read_labels(root, code, split, tracker=labels)
    out = []
    for rec in records:
        if rec["split"] != split:
            continue
        lab = rows.get(rec["id"])
        if lab is not None and lab.status == "ok":
            out.append(Utterance(rec, lab))
            continue
        reason, message = ("no_labels", "no pitch labels for this file") if lab is None else (lab.reason, lab.message)
        if fail_fast:
            raise PitchProbeError(f"--fail-fast: {code} {split}/{rec['id']}: {reason}: {message}")
        state.fail(rec["id"], split, reason, message, language=code)
    return out


def buckets(lengths: list[int], *, batch_size: int, max_batch_samples: float) -> list[list[int]]:
    """Indices of ``lengths`` grouped into batches, longest first: at most ``batch_size`` each, and at most
    ``max_batch_samples`` once padded to the batch's longest (a longer utterance than that goes alone).

    Sorting by length keeps the padding small; with ``batch_size`` 1 the order is kept as given.
    """
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i]) if batch_size > 1 else list(range(len(lengths)))
    out: list[list[int]] = []
    for i in order:
        if out and len(out[-1]) < batch_size and lengths[out[-1][0]] * (len(out[-1]) + 1) <= max_batch_samples:
            out[-1].append(i)  # the batch's first is its longest
        else:
            out.append([i])
    return out


class _Batches(torch.utils.data.Dataset):
    """Batch ``k``: ``[(index, waveform or None, (reason, message) or None)]`` of group ``k`` (read and checked)."""

    def __init__(self, paths: list[str], groups: list[list[int]]):
        self.paths, self.groups = paths, groups

    def __len__(self) -> int:
        return len(self.groups)

    def __getitem__(self, k: int) -> list[tuple]:
        out = []
        for i in self.groups[k]:
            try:
                out.append((i, torch.from_numpy(load_audio(self.paths[i]).astype(np.float32)), None))
            except AudioError as e:
                out.append((i, None, (e.reason, str(e))))
        return out


def _as_is(batch):
    return batch


def iter_states(
    backend: Backend, utts: list[Utterance], *, split: str, state: RunState, fail_fast: bool, progress: bool
):
    """Yield ``(utterance, states)`` with ``states[l]`` (T, D_l) on the model's device; failures are recorded.

    Utterances go through the model in length-sorted batches (:func:`buckets`); the padding of each
    batch is counted in ``state.counts[split].padding_seconds``. With ``backend.prefetch_workers``
    (2 on a GPU by default) DataLoader processes read and check the audio of the next batches, into
    pinned memory on a GPU, while the model runs.
    """
    bar = tqdm(total=len(utts), desc=f"{split:>5}", unit="utt", disable=not progress, leave=False)
    lengths = [int(u.record["num_samples"]) for u in utts]
    limit = backend.max_batch_seconds * SAMPLING_RATE
    groups = buckets(lengths, batch_size=backend.batch_size, max_batch_samples=limit)
    gpu = backend.device.type == "cuda"
    loader = torch.utils.data.DataLoader(
        _Batches([u.record["path"] for u in utts], groups),
        batch_size=None,
        collate_fn=_as_is,
        num_workers=backend.prefetch_workers if len(groups) > 1 else 0,
        pin_memory=gpu,
    )
    for items in loader:
        batch, wavs = [], []
        for i, wav, error in items:
            u = utts[i]
            if error is not None:
                if fail_fast:
                    raise PitchProbeError(f"--fail-fast: {error[1]}")
                state.fail(u.record["id"], split, error[0], error[1], language=u.record.get("code"))
                continue
            wavs.append(wav)
            batch.append(u)
        if batch:
            longest = max(len(w) for w in wavs)
            state.counts[split].padding_seconds += sum(longest - len(w) for w in wavs) / SAMPLING_RATE
            yield from zip(batch, backend.forward(wavs))
        bar.update(len(items))
    bar.close()


def label_grid(label: LabelRecord) -> FrameGrid:
    """Where the label frames of one utterance sit: its placed centres, as stored with its labels
    (:mod:`pitchprobe.core.timing`)."""
    return FrameGrid(first=float(label.first_centre_samples), hop=float(label.hop_samples))


def aligned(backend: Backend, u: Utterance, states: list[torch.Tensor], counts: SplitCounts) -> Frames:
    """Keep the model frames nearest each label frame (:func:`pitchprobe.core.align.align`) and count them.

    Masked label frames (NaN) are left out, and counted.
    """
    f0, grid = u.label.f0_hz, label_grid(u.label)
    al = align(n_labels=f0.size, label_grid=grid, n_model=int(states[0].shape[0]), model_grid=backend.grid)
    y = f0[al.label_index]
    trusted = ~np.isnan(y)
    label_index, model_index, y = al.label_index[trusted], al.model_index[trusted], y[trusted]
    counts.utterances += 1
    counts.frames += int(y.size)
    counts.voiced_frames += int((y > 0).sum())
    counts.dropped_frames += al.dropped
    counts.masked_frames += int((~trusted).sum())
    counts.audio_seconds += u.label.num_samples / SAMPLING_RATE
    idx = torch.as_tensor(model_index, device=states[0].device)
    centres = np.rint(grid.centres(f0.size)[label_index]).astype(np.int64)
    return Frames(u.record["id"], [h.index_select(0, idx) for h in states], y, np.asarray(label_index), centres)


def iter_frames(
    backend: Backend,
    *,
    root: Path,
    code: str,
    split: str,
    records: list[dict],
    state: RunState,
    fail_fast: bool = False,
    progress: bool = True,
    labels: str = DEFAULT_LABELS,
) -> Iterator[Frames]:
    """Every usable utterance of ``code``'s ``split`` through ``backend`` once, as aligned :class:`Frames`
    (labels by the tracker ``labels``, or ``consensus``)."""
    utts = utterances(root, code, split, records, state, fail_fast=fail_fast, labels=labels)
    for u, states in iter_states(backend, utts, split=split, state=state, fail_fast=fail_fast, progress=progress):
        yield aligned(backend, u, states, state.counts[split])


__all__ = [
    "Failure",
    "Frames",
    "RunState",
    "SplitCounts",
    "Utterance",
    "aligned",
    "buckets",
    "iter_frames",
    "iter_states",
    "label_grid",
    "load_records",
    "utterances",
]
