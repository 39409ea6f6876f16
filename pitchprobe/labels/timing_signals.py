"""The signals that time the trackers: known, moving F0 that reaches the audio with no delay.

In each register of :data:`REGISTERS_HZ`, shifted ``REPEATS`` times by a fraction of a hop: a log chirp
up and the same chirp down (``CHIRP_ST`` semitones around the register), a vibrato (``VIBRATO_DEPTH_ST``
at ``VIBRATO_RATE_HZ``), and the same vibrato after ``RANGE_LEAD_S`` of steady voicing ``RANGE_STEPS_ST``
semitones away (a wider utterance range). The voiced parts are made by zero-phase harmonic synthesis
(:func:`pitchprobe.data.synth.harmonic_signal`), so the F0 the audio carries at a sample is the true F0
there. How they are used: :mod:`pitchprobe.labels.calibrate`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from pitchprobe.core.audio import SAMPLING_RATE
from pitchprobe.data import synth
from pitchprobe.labels.pitch import DEFAULT_PARAMS, PitchParams

REGISTERS_HZ = (110.0, 160.0, 240.0)  # Hz, centre F0 of each register measured (low male to high female voices)
CHIRP_ST = 8.0  # semitones each chirp covers, centred on the register
CHIRP_S = 1.0  # s per chirp: 8 semitones/s
VIBRATO_DEPTH_ST = 2.0  # semitones, vibrato amplitude
VIBRATO_RATE_HZ = 5.0  # Hz, vibrato rate: at most 63 semitones/s
VIBRATO_S = 1.5  # s
RANGE_STEPS_ST = (-4.0, 4.0, 8.0)  # semitones from the register of the voicing before a vibrato (utterance range)
RANGE_LEAD_S = 1.0  # s of that voicing
RANGE_GLIDE_S = 0.1  # s, log glide from it into the vibrato
LEAD_S = 0.2  # s of noise floor before and after the voiced part
PEAK = 0.5  # full scale 1.0, peak of the voiced signal
NOISE_RMS = 1e-4  # full scale 1.0, white noise floor over the whole signal
REPEATS = 4  # starts per signal, spread over one hop
SEED = 0
SYNTHESIS = "zero-phase harmonic (data.synth.harmonic_signal), vowel /a/"  # what the signals are made with
KINDS = ("chirp_up", "chirp_down", "vibrato", "range")

Synthesis = Callable[..., np.ndarray]  # synthesis(f0_track, *, rng, sampling_rate) -> wav (n,)


def signal_settings() -> dict:
    """Everything that makes the calibration signals, as JSON values: part of the calibration cache key."""
    return {
        "synthesis": SYNTHESIS,
        "n_harmonics": synth.N_HARMONICS,
        "formants": [list(f) for f in synth.VOWELS["a"]],
        "registers_hz": list(REGISTERS_HZ),
        "chirp": [CHIRP_ST, CHIRP_S],
        "vibrato": [VIBRATO_DEPTH_ST, VIBRATO_RATE_HZ, VIBRATO_S],
        "range": [list(RANGE_STEPS_ST), RANGE_LEAD_S, RANGE_GLIDE_S],
        "lead_s": LEAD_S,
        "peak": PEAK,
        "noise_rms": NOISE_RMS,
        "repeats": REPEATS,
        "seed": SEED,
    }


@dataclass(frozen=True)
class CalibrationSignal:
    """One calibration signal: ``wav`` (N,) full scale 1.0 and its true F0 ``f0`` (N,), Hz per sample, 0 = unvoiced;
    the stretch measured is ``f0[start:stop]`` (a ``range`` signal's vibrato, else all of the voicing)."""

    name: str
    kind: str  # one of KINDS
    register_hz: float
    wav: np.ndarray
    f0: np.ndarray
    start: int
    stop: int
    step_st: float = 0.0  # a range signal's: semitones from the register of the voicing before its vibrato

    @property
    def estimate(self) -> str:
        """The name of the estimate this signal gives (:func:`estimate_name`)."""
        return estimate_name(self.kind, self.step_st)


def estimate_name(kind: str, step_st: float = 0.0) -> str:
    """``kind``, or for a range signal ``range<step>st`` (``range+4st``): one estimate per step."""
    return f"{kind}{step_st:+g}st" if kind == "range" else kind


def calibration_signals(
    *,
    params: PitchParams = DEFAULT_PARAMS,
    repeats: int = REPEATS,
    seed: int = SEED,
    sampling_rate: int = SAMPLING_RATE,
    synthesis: Synthesis = synth.harmonic_signal,
) -> list[CalibrationSignal]:
    """The calibration signals: per register and repeat ``j``, a chirp up, a chirp down, a vibrato and the vibrato
    after voicing at each of ``RANGE_STEPS_ST``, ``j / repeats`` hop late.

    ``synthesis(f0_track, rng=..., sampling_rate=...)`` makes the voiced part (default: delay-free).

    Returns
    -------
    list of CalibrationSignal
        ``(3 + len(RANGE_STEPS_ST)) * len(REGISTERS_HZ) * repeats`` signals, each ``LEAD_S`` (plus the shift) of
        noise floor, the voiced part, ``LEAD_S`` of noise floor.
    """
    fs = sampling_rate
    rng = np.random.default_rng(seed)
    hop = params.hop_samples(fs)
    n_chirp, n_vib = int(CHIRP_S * fs), int(VIBRATO_S * fs)
    u = np.arange(n_chirp) / n_chirp - 0.5
    t = np.arange(n_vib) / fs
    signals = []
    for register in REGISTERS_HZ:
        up = register * 2 ** (CHIRP_ST / 12 * u)
        for j in range(repeats):
            lead = int(LEAD_S * fs) + (j * hop) // repeats
            phase = rng.uniform(0, 2 * np.pi)
            vib = register * 2 ** (VIBRATO_DEPTH_ST / 12 * np.sin(2 * np.pi * VIBRATO_RATE_HZ * t + phase))
            tracks = [(kind, 0.0, np.empty(0), track) for kind, track in zip(KINDS, (up, up[::-1], vib))]
            for step in RANGE_STEPS_ST:
                before = register * 2 ** (step / 12)
                glide = np.geomspace(before, vib[0], int(RANGE_GLIDE_S * fs))
                tracks.append(("range", step, np.concatenate([np.full(int(RANGE_LEAD_S * fs), before), glide]), vib))
            for kind, step, before, track in tracks:
                voiced_f0 = np.concatenate([before, track])
                voiced = synthesis(voiced_f0, rng=rng, sampling_rate=fs)
                tail = np.zeros(int(LEAD_S * fs))
                f0 = np.concatenate([np.zeros(lead), voiced_f0, tail])
                wav = np.concatenate([np.zeros(lead), PEAK * voiced / np.max(np.abs(voiced)), tail])
                wav += NOISE_RMS * rng.standard_normal(wav.size)
                name = estimate_name(kind, step)
                start = lead + before.size
                signals.append(
                    CalibrationSignal(
                        f"{name}_{register:g}Hz_{j}", kind, register, wav, f0, start, start + track.size, step
                    )
                )
    return signals


__all__ = [
    "KINDS",
    "REGISTERS_HZ",
    "CalibrationSignal",
    "Synthesis",
    "calibration_signals",
    "estimate_name",
    "signal_settings",
]
