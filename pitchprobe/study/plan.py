"""A study's plan without running it (``study --dry-run``): units and jobs per phase, audio through each
model, sums on disk, and an estimate of the cost from per-second rates.

The audio of a language is read from its manifest where it has been gathered, else taken as FLEURS's
typical amount (:data:`FLEURS_HOURS`, split as en_us is). Rates are seconds of work per audio
second; the defaults are this project's measurements where they exist (labels) and stated
assumptions where they cannot be measured here (a GPU's forward rate).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from pitchprobe.core.layout import manifest_path
from pitchprobe.data.fleurs import BYTES_PER_SAMPLE
from pitchprobe.data.manifest import read_manifest
from pitchprobe.models import check_dtype, check_model_name, resolve_device
from pitchprobe.probe.pool import sums_bytes
from pitchprobe.study.config import (
    FIT,
    PHASES,
    POOL,
    RANDOM_PREFIX,
    SCORE,
    StudyConfig,
    fit_languages,
    model_variants,
    units_of,
)

FLEURS_HOURS = 12.0  # audio per FLEURS language, h
SPLIT_SHARE = {"train": 0.71, "dev": 0.11, "test": 0.18}  # of en_us's utterances (2602 / 394 / 647)
LABEL_CPU_PER_S = 0.02  # pYAAPT CPU seconds per audio second (measured, benchmarks/bench_labels.py)
BASE_LAYERS, BASE_DIM = 13, 768  # a base model's hidden states (HuBERT/wav2vec 2.0/WavLM base)
FORWARD_RATE = {"cuda": 1000.0, "cpu": 10.0}  # x real time of a base model's forward pass (assumed, not measured)
SAMPLE_RATE_HZ = 16000  # Hz: the audio on disk
LABEL_BYTES_PER_FRAME = 8  # bytes: one float64 F0 label, per tracker (Parquet compresses it; an upper bound)
PREDICTION_BYTES_PER_FRAME = 16  # bytes: a test frame's prediction per layer (value, label index, centre; about)


@dataclass
class Plan:
    """What a study would run."""

    models: int
    languages: int
    fit_languages: int
    units: dict[str, int]
    jobs: dict[str, int]
    probes_per_test_utterance: int
    audio_s: dict[str, float]  # per split, over the languages each split is run for (per model)
    audio_measured: int  # languages whose audio came from their manifests
    sums_bytes_per_language: int  # of a base model
    sums_languages: int  # languages whose sums are on disk at once (per model)
    device: str = "cpu"  # where the forwards would run: "cuda" or "cpu"
    cores: int = 1  # CPUs the labels would run on
    disk_bytes: dict[str, float] = field(default_factory=dict)  # audio, labels, results, sums
    notes: list[str] = field(default_factory=list)

    @property
    def forwards_per_utterance(self) -> int:
        return 1  # fit units run train and dev, score units test: each utterance once per model

    def estimate(
        self,
        *,
        cores: int | None = None,
        forward_rate: float | None = None,
        fit_seconds: float = 4.0,
        label_cpu_per_s: float = LABEL_CPU_PER_S,
    ) -> dict[str, float]:
        """Hours on one node: labels over ``cores`` CPUs (default: this machine's), then each model's forwards at
        ``forward_rate`` × real time (default: :data:`FORWARD_RATE` of the plan's device) and its fits
        (``fit_seconds`` each; the pool makes K + 1 of them)."""
        cores = self.cores if cores is None else cores
        forward_rate = FORWARD_RATE[self.device] if forward_rate is None else forward_rate
        audio = sum(self.audio_s.values())
        labels = audio * label_cpu_per_s / cores
        forward = self.models * audio / forward_rate
        fits = self.models * (self.fit_languages + (self.languages + 1 if self.units.get(POOL) else 0)) * fit_seconds
        return {
            "labels_h": labels / 3600,
            "forward_h": forward / 3600,
            "fits_h": fits / 3600,
            "total_h": (labels + forward + fits) / 3600,
        }

    def text(self, **rates) -> str:
        est = self.estimate(**rates)
        gb = self.sums_bytes_per_language / 1e9
        lines = [
            f"{self.models} model(s) x {self.languages} language(s) ({self.fit_languages} fitted)",
            "units: " + ", ".join(f"{self.units.get(p, 0)} {p}" for p in PHASES),
            "jobs:  " + ", ".join(f"{self.jobs.get(p, 0)} {p}" for p in PHASES) + " (fits, then the pool, then scores)",
            f"forward passes per utterance and model: {self.forwards_per_utterance}; "
            f"probes scored per test utterance: {self.probes_per_test_utterance}",
            "audio per model: "
            + ", ".join(f"{s} {v / 3600:.1f} h" for s, v in self.audio_s.items())
            + f" ({self.audio_measured} of {self.fit_languages} languages from their manifests, "
            f"the rest {FLEURS_HOURS:g} h each)",
        ]
        if self.sums_languages:
            lines.append(
                f"sums on disk (a base model, {BASE_LAYERS} x {BASE_DIM}): {gb:.2f} GB per language, "
                f"{gb * self.sums_languages:.1f} GB per model until its pool is fitted"
            )
        cores = rates.get("cores", self.cores)
        rate = rates.get("forward_rate", FORWARD_RATE[self.device])
        lines.append(
            f"estimate: labels {est['labels_h']:.1f} h, forwards {est['forward_h']:.1f} h, fits {est['fits_h']:.1f} h; "
            f"total {est['total_h']:.1f} h, assuming labels on {cores} cores at {LABEL_CPU_PER_S:g} CPU s per audio "
            f"s, forwards on the {self.device} at {rate:g}x real time (a base model; an assumption, not measured)"
        )
        if self.disk_bytes:
            parts = ", ".join(f"{k} {v / 1e9:.2f} GB" for k, v in self.disk_bytes.items())
            lines.append(f"disk: {sum(self.disk_bytes.values()) / 1e9:.2f} GB at most ({parts})")
        return "\n".join(lines + self.notes)


def plan_study(cfg: StudyConfig) -> Plan:
    """The units, jobs, audio and disk of ``cfg`` (nothing is run, no model is loaded and no network is used).

    Raises
    ------
    UnknownNameError
        For a model name that is no S3PRL upstream, local directory or ``org/name`` id (:func:`check_model_name`).
    PitchProbeError
        For ``--dtype bfloat16`` on a CPU without native bf16, unless ``force_dtype``.
    """
    for name in cfg.models:
        check_model_name(name.removeprefix(RANDOM_PREFIX))
    if cfg.device.startswith("cuda"):
        device = "cuda"  # planned for a GPU this machine (a login node, say) may lack
    else:
        resolved = resolve_device(cfg.device)
        check_dtype(cfg.dtype, resolved, force=cfg.force_dtype)
        device = resolved.type
    units = units_of(cfg)
    count = {p: sum(1 for u in units if u.kind == p) for p in PHASES}
    per = max(1, cfg.langs_per_job)
    n_models = len(model_variants(cfg))
    jobs = {
        FIT: n_models * -(-len(fit_languages(cfg)) // per),
        POOL: count[POOL],
        SCORE: n_models * -(-len(cfg.langs) // per),
    }
    audio = dict.fromkeys(SPLIT_SHARE, 0.0)
    measured = 0
    root = Path(cfg.data_dir) if cfg.data_dir else None
    for code in fit_languages(cfg):
        splits = ("train", "dev", "test") if code in cfg.langs else ("train", "dev")
        if root is not None and manifest_path(root, code).is_file():
            measured += 1
            for rec in read_manifest(root, code, splits=splits):
                audio[rec["split"]] += rec["num_samples"] / rec.get("sampling_rate", 16000)
        else:
            for s in splits:
                audio[s] += FLEURS_HOURS * 3600 * SPLIT_SHARE[s]
    first = cfg.langs[0] if cfg.langs else None
    own = 1 + sum(1 for t in cfg.train_langs if t != first) + (2 if cfg.pooled else 0)
    sums = sums_bytes([BASE_DIM] * BASE_LAYERS, dtype=cfg.sums_dtype) if cfg.pooled else 0
    seconds = sum(audio.values())
    frames_per_s = 1000.0 / cfg.frame_space_ms
    disk = {
        "audio": seconds * SAMPLE_RATE_HZ * BYTES_PER_SAMPLE,
        "labels": seconds * frames_per_s * LABEL_BYTES_PER_FRAME * len(cfg.trackers),
        "results": n_models * audio["test"] * frames_per_s * BASE_LAYERS * PREDICTION_BYTES_PER_FRAME,
        "sums": n_models * sums * len(cfg.langs),
    }
    return Plan(
        models=n_models,
        languages=len(cfg.langs),
        fit_languages=len(fit_languages(cfg)),
        units=count,
        jobs=jobs,
        probes_per_test_utterance=own,
        audio_s=audio,
        audio_measured=measured,
        sums_bytes_per_language=sums,
        sums_languages=len(cfg.langs) if cfg.pooled else 0,
        device=device,
        cores=len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1,
        disk_bytes=disk,
    )


__all__ = ["FLEURS_HOURS", "FORWARD_RATE", "LABEL_CPU_PER_S", "Plan", "plan_study"]
