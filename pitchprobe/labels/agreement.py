"""How far F0 trackers agree on the same frames, and a consensus label from several of them.

Labels here are float arrays of F0 in Hz on one frame grid, shared by every tracker:
``> 0`` voiced, ``0`` unvoiced, NaN masked (no label). A NaN frame is ignored everywhere:
it counts in no numerator and no denominator.

- :func:`pair_agreement`: voicing agreement and pitch agreement of two trackers, the first
  one (``a``) taken as the reference;
- :func:`agreement_rows`: the same for every pair of several trackers over many utterances,
  one table row per pair, with :func:`headline_agreement` beside it;
- :func:`headline_agreement`: how far two trackers agree on what the report's headline pair
  measures: movement (``r_movement``, the within-utterance r of semitones re each utterance's
  median, as the ``st_utt`` target) and register (``r_register``, the r over utterances of their
  median in semitones re 100 Hz, as the ``register`` target);
- :func:`consensus`: one label per frame from K trackers: their pitch where at least two agree
  within a quarter tone, 0 where all call the frame unvoiced, NaN (not used to fit or to
  score) where they disagree; :func:`consensus_counts` counts each kind.

Pitch metrics are over the frames both trackers call voiced, with ``c = 1200 log2(b / a)``
cents the interval from ``a`` to ``b``:

- ``gpe``: gross pitch error rate, the fraction with ``|b / a - 1| > 0.20``;
- ``octave_down`` / ``octave_up``: the fraction with ``|c + 1200| < 100`` / ``|c - 1200| < 100``;
- ``mad_cents``: ``median(|c|)``, the typical pitch disagreement in cents;
- ``bias_cents``: ``median(c)``, how far ``b`` typically reads above ``a`` (negative: below);
- ``r`` / ``r_log``: Pearson correlation of ``a`` and ``b`` in Hz / in log Hz.

Undefined values (no frames; a correlation of fewer than 2 frames or of a constant) are NaN.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np

GPE_RATIO = 0.20  # |b/a - 1| above this is a gross pitch error: the usual 20 % of F0-tracker evaluations
OCTAVE_CENTS = 1200.0  # cents in an octave
# cents: "about an octave" is within 100 cents (a semitone) of it, the definition of lars76/pitch-benchmark
# (metrics.py, _PitchBin.add: |cents - 1200 * round(cents / 1200)| < 100). A halving with a few % of jitter
# (up to 6 %, 100 cents) still counts, while a fifth (702 cents, 498 from the octave) lies far outside.
# lars76 counts any non-zero number of octaves in either direction; here only one octave, split by
# direction, since halving and doubling have different causes in a tracker.
OCTAVE_TOL_CENTS = 100.0
CONSENSUS_CENTS = 50.0  # cents: agreement within a quarter tone, raw pitch accuracy's tolerance (mir_eval)
MIN_VOICED = 2  # trackers that must call a frame voiced for a consensus pitch: an agreeing pair needs two
CENTS_EPS = 1e-6  # cents of float rounding allowed at a tolerance (log2 rounds at ~1e-12): "exactly 50" is in
CONSTANT_RTOL = 1e-12  # a series whose variance is below this fraction of its second moment is constant: no correlation
MIN_WITHIN_FRAMES = 3  # voiced frames an utterance needs for its own r (two points always correlate fully)
REGISTER_REF_HZ = 100.0  # Hz, 0 semitones of the register target


@dataclass(frozen=True)
class PairAgreement:
    """Agreement of tracker ``b`` with reference tracker ``a`` on the frames labelled by both (NaN in neither).

    Counts are frames; rates are fractions in [0, 1]; ``mad_cents`` and ``bias_cents`` in cents; ``r`` of Hz,
    ``r_log`` of log Hz.
    ``voicing_agreement`` is over all ``frames``; the pitch metrics over the ``both_voiced`` ones.
    """

    frames: int
    voiced_a: int
    voiced_b: int
    both_voiced: int
    voicing_agreement: float
    gpe: float
    octave_down: float
    octave_up: float
    mad_cents: float
    r: float
    r_log: float
    bias_cents: float

    def as_dict(self) -> dict[str, int | float]:
        return asdict(self)


def _labels(x, name: str) -> np.ndarray:
    """``x`` as a float64 (T,) label array, refusing what is not one (negative or infinite F0)."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"{name}: F0 labels must be one array (T,) per utterance, got shape {x.shape}")
    bad = ~np.isnan(x) & ~(np.isfinite(x) & (x >= 0))
    if bad.any():
        raise ValueError(f"{name}: F0 labels are Hz >= 0 or NaN, got {x[bad][:3]} at frames {np.flatnonzero(bad)[:3]}")
    return x


def _mean(mask: np.ndarray) -> float:
    return float(mask.mean()) if mask.size else float("nan")


def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    """Pearson r of two (n,) series; NaN for n < 2 or a constant series."""
    if x.size < 2:
        return float("nan")
    xc, yc = x - x.mean(), y - y.mean()
    sxx, syy = xc @ xc, yc @ yc
    if sxx <= CONSTANT_RTOL * (x @ x) or syy <= CONSTANT_RTOL * (y @ y):
        return float("nan")
    return float(np.clip((xc @ yc) / np.sqrt(sxx * syy), -1.0, 1.0))


def pair_agreement(f0_a, f0_b) -> PairAgreement:
    """Agreement of two trackers' labels of the same frames.

    Parameters
    ----------
    f0_a, f0_b : array_like
        (T,) F0 in Hz, 0 = unvoiced, NaN = masked; ``f0_a`` is the reference. Frames where
        either is NaN are left out of every count.

    Returns
    -------
    PairAgreement
    """
    a, b = _labels(f0_a, "f0_a"), _labels(f0_b, "f0_b")
    if a.shape != b.shape:
        raise ValueError(f"the two trackers label different frames: {a.shape} and {b.shape}")
    keep = ~np.isnan(a) & ~np.isnan(b)
    a, b = a[keep], b[keep]
    va, vb = a > 0, b > 0
    both = va & vb
    av, bv = a[both], b[both]
    cents = OCTAVE_CENTS * np.log2(bv / av)
    return PairAgreement(
        frames=int(a.size),
        voiced_a=int(va.sum()),
        voiced_b=int(vb.sum()),
        both_voiced=int(both.sum()),
        voicing_agreement=_mean(va == vb),
        gpe=_mean(np.abs(bv / av - 1.0) > GPE_RATIO),
        octave_down=_mean(np.abs(cents + OCTAVE_CENTS) < OCTAVE_TOL_CENTS),
        octave_up=_mean(np.abs(cents - OCTAVE_CENTS) < OCTAVE_TOL_CENTS),
        mad_cents=float(np.median(np.abs(cents))) if cents.size else float("nan"),
        r=_pearson(av, bv),
        r_log=_pearson(np.log(av), np.log(bv)),
        bias_cents=float(np.median(cents)) if cents.size else float("nan"),
    )


def _utterances(labels: Mapping[str, np.ndarray | Sequence[np.ndarray]]) -> dict[str, list[np.ndarray]]:
    """Each tracker's labels as a list of (T_i,) arrays, one per utterance (one concatenated array is one)."""
    out = {}
    for name, value in labels.items():
        utts = [value] if isinstance(value, np.ndarray) else list(value)
        out[name] = [_labels(u, f"{name}[{i}]") for i, u in enumerate(utts)]
    counts = {name: len(utts) for name, utts in out.items()}
    if len(set(counts.values())) > 1:
        raise ValueError(f"the trackers label different numbers of utterances: {counts}")
    return out


def agreement_rows(
    labels: Mapping[str, np.ndarray | Sequence[np.ndarray]], *, pairs: Iterable[tuple[str, str]] | None = None
) -> list[dict]:
    """One row of :class:`PairAgreement` per pair of trackers, over all their utterances.

    Parameters
    ----------
    labels : dict
        ``{tracker: labels}``: a list of (T_i,) arrays, the i-th of every tracker the same
        utterance on the same frame grid, or one (T,) array already concatenated (Hz, 0 =
        unvoiced, NaN = masked). Two labellings of one utterance of different lengths are
        compared on the frames of the shorter.
    pairs : iterable of (str, str), optional
        ``(a, b)`` pairs, ``a`` the reference; by default every pair with ``a`` before ``b``
        in the order of ``labels``.

    Returns
    -------
    list of dict
        ``{"tracker_a", "tracker_b", **PairAgreement.as_dict(), **headline_agreement(...),
        "length_mismatch_frames"}``, the last the frames cut off by truncation (summed ``|T_a,i - T_b,i|``).
    """
    utts = _utterances(labels)
    names = list(utts)
    pairs = [(a, b) for i, a in enumerate(names) for b in names[i + 1 :]] if pairs is None else list(pairs)
    rows = []
    for a, b in pairs:
        missing = [n for n in (a, b) if n not in utts]
        if missing:
            raise ValueError(f"no labels of tracker(s) {missing}; trackers: {names}")
        n = [min(x.size, y.size) for x, y in zip(utts[a], utts[b])]
        mismatch = sum(abs(x.size - y.size) for x, y in zip(utts[a], utts[b]))
        fa = np.concatenate([x[:k] for x, k in zip(utts[a], n)]) if n else np.zeros(0)
        fb = np.concatenate([y[:k] for y, k in zip(utts[b], n)]) if n else np.zeros(0)
        rows.append(
            {
                "tracker_a": a,
                "tracker_b": b,
                **pair_agreement(fa, fb).as_dict(),
                **headline_agreement(utts[a], utts[b]),
                "length_mismatch_frames": mismatch,
            }
        )
    return rows


def _semitones(f0: np.ndarray) -> np.ndarray:
    """Semitones re the median of the voiced frames of ``f0`` (Hz); NaN where unvoiced or masked."""
    voiced = f0 > 0
    out = np.full(f0.shape, np.nan)
    if voiced.any():
        out[voiced] = 12.0 * np.log2(f0[voiced] / np.median(f0[voiced]))
    return out


def headline_agreement(utts_a: Sequence[np.ndarray], utts_b: Sequence[np.ndarray]) -> dict[str, float]:
    """Agreement of two trackers on the headline pair, over utterances (the i-th of each the same one).

    - ``r_movement``: per utterance, Pearson r of the two trackers' semitones re their own voiced median, on
      the frames both call voiced (at least :data:`MIN_WITHIN_FRAMES`), averaged with weights = those frames:
      the within-utterance r the ``st_utt`` probe is scored by, between the two labellings;
    - ``r_register``: Pearson r over the utterances both voice somewhere of their median voiced F0 in
      semitones re :data:`REGISTER_REF_HZ` (each tracker's median over its own voiced frames, as the
      ``register`` target); ``register_utterances`` how many.

    NaN where undefined. Masked (NaN) frames count as neither voiced nor unvoiced.
    """
    wr = w = 0.0
    reg_a, reg_b = [], []
    for a, b in zip(utts_a, utts_b):
        n = min(a.size, b.size)
        a, b = np.nan_to_num(a[:n], nan=0.0), np.nan_to_num(b[:n], nan=0.0)
        sa, sb = _semitones(a), _semitones(b)
        both = (a > 0) & (b > 0)
        if both.sum() >= MIN_WITHIN_FRAMES:
            r = _pearson(sa[both], sb[both])
            if np.isfinite(r):
                wr, w = wr + r * both.sum(), w + both.sum()
        if (a > 0).any() and (b > 0).any():
            reg_a.append(12.0 * np.log2(np.median(a[a > 0]) / REGISTER_REF_HZ))
            reg_b.append(12.0 * np.log2(np.median(b[b > 0]) / REGISTER_REF_HZ))
    return {
        "r_movement": float(wr / w) if w else float("nan"),
        "r_register": _pearson(np.asarray(reg_a), np.asarray(reg_b)),
        "register_utterances": len(reg_a),
    }


def consensus(f0s, *, tolerance_cents: float = CONSENSUS_CENTS, min_voiced: int = MIN_VOICED) -> np.ndarray:
    """A consensus F0 label per frame from K trackers.

    Per frame, over the trackers with an opinion (not NaN), "voiced" meaning F0 > 0:

    1. if at least ``min_voiced`` trackers call it voiced and some pair of them lies within
       ``tolerance_cents`` (``|1200 log2(f_i / f_j)| <= tolerance_cents``): take the closest pair
       (the smallest interval; on a tie the first pair in the order (0, 1), (0, 2), ..., (1, 2), ...),
       its geometric mean ``g``, and the voiced trackers within ``tolerance_cents`` of ``g``
       (always the pair itself, whose members lie within half the tolerance of ``g``); the label
       is the geometric mean of those trackers;
    2. elif all K trackers call it unvoiced (exactly 0): 0, a trusted unvoiced frame;
    3. else NaN: masked, used neither to fit nor to score.

    A NaN is no opinion: the voiced rule is decided by the other trackers alone, while a
    trusted unvoiced frame needs all K, so a frame with a NaN is voiced (rule 1) or NaN.

    Parameters
    ----------
    f0s : array_like
        (K, T) or a list of K (T,) arrays: each tracker's F0 in Hz on the same frames, 0 =
        unvoiced, NaN = no label.
    tolerance_cents : float
        Cents (inclusive, up to :data:`CENTS_EPS` of float rounding).
    min_voiced : int
        Trackers that must call a frame voiced for a consensus pitch (at least 2: a pair must agree).

    Returns
    -------
    np.ndarray
        float64 (T,): Hz where voiced, 0 where trusted unvoiced, NaN where masked.
    """
    if min_voiced < 2:
        raise ValueError(f"min_voiced must be at least 2 (a pair of trackers must agree), got {min_voiced}")
    if not tolerance_cents >= 0:
        raise ValueError(f"tolerance_cents must be >= 0, got {tolerance_cents}")
    if isinstance(f0s, np.ndarray) and f0s.ndim == 2:
        f0s = list(f0s)
    rows = [_labels(x, f"f0s[{i}]") for i, x in enumerate(f0s)]
    if not rows or len({r.size for r in rows}) > 1:
        raise ValueError(f"consensus needs K >= 1 trackers on the same frames, got lengths {[r.size for r in rows]}")
    f = np.stack(rows)  # (K, T)
    k, t = f.shape
    voiced = f > 0  # NaN > 0 is False: no opinion
    with np.errstate(divide="ignore", invalid="ignore"):
        lg = np.where(voiced, np.log2(np.where(voiced, f, 1.0)), np.nan)  # (K, T) log2 Hz, NaN unless voiced
    limit = tolerance_cents + CENTS_EPS
    best = np.full(t, np.inf)  # cents of the closest voiced pair
    centre = np.full(t, np.nan)  # its log2 geometric mean
    for i in range(k):
        for j in range(i + 1, k):
            d = np.abs(OCTAVE_CENTS * (lg[i] - lg[j]))
            closer = d < best  # strict: a tie keeps the earlier pair
            best = np.where(closer, d, best)
            centre = np.where(closer, 0.5 * (lg[i] + lg[j]), centre)
    agree = (voiced.sum(0) >= min_voiced) & (best <= limit)
    members = voiced & (np.abs(OCTAVE_CENTS * (lg - centre)) <= limit)
    with np.errstate(invalid="ignore"):
        pitch = np.exp2(np.where(members, lg, 0.0).sum(0) / members.sum(0))
    unvoiced = (f == 0).all(0)
    return np.where(agree, pitch, np.where(unvoiced, 0.0, np.nan))


def consensus_counts(out) -> dict[str, int]:
    """Frames of a :func:`consensus` label (T,): ``frames``, ``voiced`` (> 0), ``unvoiced`` (0), ``masked`` (NaN)."""
    out = np.asarray(out, dtype=np.float64)
    return {
        "frames": int(out.size),
        "voiced": int((out > 0).sum()),
        "unvoiced": int((out == 0).sum()),
        "masked": int(np.isnan(out).sum()),
    }


__all__ = [
    "CONSENSUS_CENTS",
    "GPE_RATIO",
    "MIN_VOICED",
    "MIN_WITHIN_FRAMES",
    "REGISTER_REF_HZ",
    "OCTAVE_TOL_CENTS",
    "PairAgreement",
    "agreement_rows",
    "consensus",
    "consensus_counts",
    "headline_agreement",
    "pair_agreement",
]
