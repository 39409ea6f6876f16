"""A probe result's fingerprint: everything that determines its numbers, built in one place.

:class:`ProbeSettings` holds the inputs: the model, the labels and where their frames sit, where the
model's frames sit, and the probe's settings. :meth:`ProbeSettings.fingerprint` lays them out for one
result (its train and test languages). The writer (:func:`pitchprobe.probe.score.score_targets`) records
the fingerprint of the settings its caller hands it, and a study's checker
(:func:`pitchprobe.study.current.unit_fingerprint`) compares what is on disk with the fingerprint of the
same settings: :func:`probe_settings` makes them for both, so that an input (the label timing, say)
changes in one place. :func:`fingerprint_differences` names what differs between two fingerprints.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from pitchprobe import __version__
from pitchprobe.core.timing import label_timing_identity
from pitchprobe.labels.pitch import PitchParams
from pitchprobe.models.base import DEFAULT_DTYPE
from pitchprobe.models.identity import ModelIdentity

MAJOR_VERSION = __version__.split(".")[0]
FIT_SPLITS = ("train", "dev")
SCORE_SPLITS = ("test",)
SUMS_DTYPE = "float64"  # the pooled probes' sums at full precision (recorded only when otherwise)


@dataclass(frozen=True)
class ProbeSettings:
    """The inputs of a result's fingerprint, but its languages (see :func:`probe_settings`).

    Attributes
    ----------
    model : ModelIdentity
        The model (its seed is a random init's).
    labels : PitchParams
        The settings of the labels the probes are fitted and scored on.
    labels_timing : dict
        Where the labels' frames are placed (:func:`pitchprobe.labels.make.labels_placement`: the tracker's
        placement rule and applied offset; a consensus's, per source).
    model_offset : float
        Samples from the nominal frame centres to where the model's frames were measured to sit, as
        the backend places them (``Backend.grid_offset``).
    alpha : float or None
        Fixed ridge penalty; None: chosen per layer and target on dev from a grid.
    gender : str
        The speakers used.
    postprocess : bool
        The headline MSE after the prototype's smoothing.
    dtype : str
        The forward pass's precision.
    sums_dtype : str
        The storage of a pooled probe's sums (recorded for pooled probes only).
    """

    model: ModelIdentity
    labels: PitchParams
    labels_timing: dict = field(default_factory=lambda: label_timing_identity(None))
    model_offset: float = 0.0
    alpha: float | None = None
    gender: str = "all"
    postprocess: bool = False
    dtype: str = DEFAULT_DTYPE
    sums_dtype: str = SUMS_DTYPE

    def fingerprint(
        self, *, train_language: str, test_language: str | None, pooled_languages: list[str] | None = None
    ) -> dict:
        """Everything that determines a result's numbers, as a flat dict of JSON values.

        ``test_language`` None: a fit's (or a pool's) fingerprint, which scores nothing. ``pooled_languages``:
        those a pooled probe was fitted on (recorded, with the storage of its sums, for pooled probes only).
        The dtype is recorded only when not float32 and the model offset only when not 0, so that results made
        before they existed stay valid; labels or a model placed anew elsewhere make the results stale.
        """
        extra = {} if self.dtype == DEFAULT_DTYPE else {"dtype": self.dtype}
        extra["labels_timing"] = dict(self.labels_timing)
        if self.model_offset:
            extra["model_offset_samples"] = float(self.model_offset)
        if pooled_languages is not None:
            extra["pooled_languages"] = sorted(pooled_languages)
            if self.sums_dtype != SUMS_DTYPE:
                extra["sums_dtype"] = self.sums_dtype
        scored = test_language is not None
        return {
            **extra,
            "pitchprobe_major": MAJOR_VERSION,
            "model": self.model.as_dict(),
            "labels": self.labels.as_json(),
            "alpha": "dev-grid" if self.alpha is None else float(self.alpha),
            "gender": self.gender,
            "fit_splits": list(FIT_SPLITS),
            "score_splits": list(SCORE_SPLITS if scored else ()),
            "seed": int(self.model.seed),  # a random init's seed
            "postprocess": bool(self.postprocess and scored),
            "train_language": train_language,
            "test_language": test_language,
        }


def probe_settings(
    *,
    root: Path,
    model: ModelIdentity,
    labels: PitchParams,
    model_offset: float,
    alpha: float | None = None,
    gender: str = "all",
    postprocess: bool = False,
    dtype: str = DEFAULT_DTYPE,
    sums_dtype: str = SUMS_DTYPE,
) -> ProbeSettings:
    """The settings of results made with ``labels`` under data root ``root``: the one place the labels' placement
    is looked up (:func:`pitchprobe.labels.make.labels_placement`, the trackers' placement and measured timing)."""
    from pitchprobe.labels.make import labels_placement

    return ProbeSettings(
        model=model,
        labels=labels,
        labels_timing=labels_placement(Path(root), labels),
        model_offset=float(model_offset),
        alpha=alpha,
        gender=gender,
        postprocess=postprocess,
        dtype=dtype,
        sums_dtype=sums_dtype,
    )


def fingerprint_differences(stored: dict | None, wanted: dict) -> list[str]:
    """``field: stored -> wanted`` for every field that differs (nested dicts by dotted name; lists of names as
    what was added and removed, so that a pool of a hundred languages reads in one line)."""
    if stored is None:
        return ["fingerprint: none stored"]
    out = []
    for key in sorted(set(stored) | set(wanted)):
        a, b = stored.get(key), wanted.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            out += [f"{key}.{d}" for d in fingerprint_differences(a, b)]
        elif a == b:
            continue
        elif _names(a) and _names(b) and set(a) != set(b):
            added, removed = sorted(set(b) - set(a)), sorted(set(a) - set(b))
            change = [f"{what} {', '.join(names)}" for what, names in (("added", added), ("removed", removed)) if names]
            out.append(f"{key}: " + "; ".join(change))
        else:
            out.append(f"{key}: {a!r} -> {b!r}")
    return out


def _names(x) -> bool:
    return isinstance(x, list) and all(isinstance(v, str) for v in x)


def changed_fields(differences: list[str]) -> set[str]:
    """The field names of :func:`fingerprint_differences`' lines."""
    return {d.split(":")[0] for d in differences}


__all__ = [
    "FIT_SPLITS",
    "MAJOR_VERSION",
    "SCORE_SPLITS",
    "ProbeSettings",
    "changed_fields",
    "fingerprint_differences",
    "probe_settings",
]
