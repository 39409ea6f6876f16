"""Every tracker's accuracy against a known F0 across 70-350 Hz: steady tones and moving, speech-like contours.

Signals carry their F0 with no delay (zero-phase harmonic synthesis, :func:`pitchprobe.data.synth.harmonic_signal`
and :func:`~pitchprobe.data.synth.moving_utterance`), in memory. Each is labelled by every installed tracker
(``track_placed``) at each frame length, and compared frame for frame with the true F0 where the labels are
placed (nominal centres plus ``Tracked.offset_samples``; ``true_f0_at``: a frame is voiced truth when its
+-200 samples are all voiced). Per cell (condition x frame length x tracker), pooled over its signals
(metrics of :func:`pitchprobe.labels.agreement.pair_agreement`, the truth as reference):

- recall: the share of voiced-truth frames the tracker calls voiced;
- bias: the median signed error in cents (negative: reads low); |err|: the median absolute error in cents;
- gross: the share of frames both call voiced that are more than 20 % off;
- oct+ / oct-: the share within 100 cents of double / half the true F0.

Printed: per condition at the first frame length, each tracker's recall / bias / |err| / gross; then per tracker
and frame length, the tones pooled and the contours pooled; with ``--all``, every cell.

    python benchmarks/bench_accuracy.py [--quick] [--all] [--trackers pyaapt,praat] [--frames 25,35,50]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

TONES_HZ = (70.0, 85.0, 100.0, 125.0, 160.0, 200.0, 250.0, 300.0, 350.0)  # Hz, steady tones
BANDS_HZ = ((70.0, 110.0), (100.0, 160.0), (150.0, 240.0), (220.0, 350.0))  # Hz, ranges of the moving contours
FRAME_LENGTHS_MS = (25.0, 35.0, 50.0)  # ms, pYAAPT's analysis window (the grid's, for the others)
TONE_S = 1.5  # s of voicing per tone
LEAD_S = 0.2  # s of noise floor before and after a tone
FLOOR = 1e-4  # full scale 1.0, rms of the noise floor
CONTOUR_S = 3.0  # s per moving utterance
VOWELS = ("a", "i", "u", "o")  # one tone per vowel (the formants move the harmonics' weights)
CONTOURS = 12  # moving utterances per band (--quick: 2)
SEED = 20260314  # not a seed any test uses
FS = 16000  # Hz


def _tone(hz: float, vowel: str, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(wave, true F0 per sample), both (N,): noise floor, a steady tone at peak 0.5, noise floor."""
    from pitchprobe.data.synth import harmonic_signal

    lead = np.zeros(int(LEAD_S * FS))
    v = harmonic_signal(np.full(int(TONE_S * FS), hz), rng=rng, vowel=vowel)
    wav = np.concatenate([lead, 0.5 * v / np.max(np.abs(v)), lead])
    return wav + FLOOR * rng.standard_normal(wav.size), np.concatenate([lead, np.full(v.size, hz), lead])


def signals(*, quick: bool) -> dict[str, list[tuple[np.ndarray, np.ndarray]]]:
    """``{condition: [(wave, true F0), ...]}``: one condition per tone and per contour band."""
    from pitchprobe.data.synth import moving_utterance

    rng = np.random.default_rng(SEED)
    vowels = VOWELS[:1] if quick else VOWELS
    out = {f"tone {hz:g}": [_tone(hz, v, rng) for v in vowels] for hz in TONES_HZ}
    for lo, hi in BANDS_HZ:
        out[f"moving {lo:g}-{hi:g}"] = [
            moving_utterance(low_hz=lo, high_hz=hi, duration_s=CONTOUR_S, rng=rng)
            for _ in range(2 if quick else CONTOURS)
        ]
    return out


def labelled(tracker: str, params, waves: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """(truth, labels), both float64 (F,) Hz, 0 = unvoiced: one condition's frames by ``tracker``, concatenated."""
    from pitchprobe.data.synth import true_f0_at
    from pitchprobe.labels.trackers import track_placed

    truth, got = [], []
    for wav, f0 in waves:
        placed = track_placed(tracker, wav, params=params)
        truth.append(true_f0_at(f0, params.frame_centres(placed.f0_hz.size) + placed.offset_samples))
        got.append(placed.f0_hz)
    return np.concatenate(truth), np.concatenate(got)


def metrics(truth: np.ndarray, got: np.ndarray) -> dict:
    """The module docstring's metrics of labels ``got`` against ``truth`` (both (F,) Hz)."""
    from pitchprobe.labels.agreement import pair_agreement

    a = pair_agreement(truth, got)
    return {
        "frames": a.voiced_a,
        "recall": a.both_voiced / a.voiced_a if a.voiced_a else float("nan"),
        "bias": a.bias_cents,
        "abs": a.mad_cents,
        "gross": a.gpe,
        "oct_up": a.octave_up,
        "oct_down": a.octave_down,
    }


def _pct(x: float) -> str:
    return "—" if not np.isfinite(x) else f"{100 * x:.1f}"


def _cents(x: float, sign: str = "+") -> str:
    return "—" if not np.isfinite(x) else f"{x:{sign}.1f}"


HEADER = "recall % | bias ¢ | median abs ¢ | gross % | oct+ % | oct− %"


def _cells(m: dict) -> str:
    return (
        f"{_pct(m['recall'])} | {_cents(m['bias'])} | {_cents(m['abs'], '')} | {_pct(m['gross'])} | "
        f"{_pct(m['oct_up'])} | {_pct(m['oct_down'])}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help=f"one tone per F0 (not {len(VOWELS)}), 2 contours per band")
    ap.add_argument("--trackers", default="pyaapt,pyaapt-fixed,praat,swift", help="comma-separated")
    ap.add_argument("--frames", default=",".join(f"{ms:g}" for ms in FRAME_LENGTHS_MS), help="frame lengths, ms")
    ap.add_argument("--all", action="store_true", help="also every cell: condition x frame length x tracker")
    args = ap.parse_args()
    from pitchprobe.labels.pitch import PitchParams
    from pitchprobe.labels.trackers import TrackerMissingError, require

    trackers = []
    for name in args.trackers.split(","):
        try:
            require(name)
            trackers.append(name)
        except TrackerMissingError as e:
            print(f"{name}: not installed ({e})")
    frame_lengths = [float(ms) for ms in args.frames.split(",")]
    t0 = time.perf_counter()
    conditions = signals(quick=args.quick)
    audio = sum(w.size for waves in conditions.values() for w, _ in waves) / FS
    print(f"{len(conditions)} conditions, {audio:.1f} s of audio, frame lengths {frame_lengths} ms, {trackers}")
    frames = {
        (c, ms, name): labelled(name, PitchParams(frame_length_ms=ms, tracker=name), waves)
        for ms in frame_lengths
        for name in trackers
        for c, waves in conditions.items()
    }
    if args.all:
        print(f"\n| condition | frame ms | tracker | voiced frames | {HEADER} |\n" + "|---" * 10 + "|")
        for (c, ms, name), (truth, got) in frames.items():
            m = metrics(truth, got)
            print(f"| {c} | {ms:g} | {name} | {m['frames']} | {_cells(m)} |")
    ms = frame_lengths[0]
    print(f"\nPer condition, {ms:g} ms frames: recall % / bias ¢ / median abs ¢ / gross %")
    print("| condition | voiced frames | " + " | ".join(trackers) + " |\n" + "|---" * (len(trackers) + 2) + "|")
    for c in conditions:
        row = [metrics(*frames[(c, ms, name)]) for name in trackers]
        cells = [
            f"{_pct(m['recall'])} / {_cents(m['bias'])} / {_cents(m['abs'], '')} / {_pct(m['gross'])}" for m in row
        ]
        print(f"| {c} | {row[0]['frames']} | " + " | ".join(cells) + " |")
    print("\nPooled over the tones and over the moving contours, per frame length")
    print(f"| signals | tracker | frame ms | {HEADER} |")
    print("|---" * 9 + "|")
    for kind in ("tone", "moving"):
        for name in trackers:
            for ms in frame_lengths:
                pooled = [frames[(c, ms, name)] for c in conditions if c.startswith(kind)]
                m = metrics(np.concatenate([t for t, _ in pooled]), np.concatenate([g for _, g in pooled]))
                print(f"| {kind} | {name} | {ms:g} | {_cells(m)} |")
    print(f"\n{time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
