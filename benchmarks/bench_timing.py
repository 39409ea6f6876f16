"""Where every tracker's stored labels sit, against signals whose F0 is known at every sample and has no delay.

A corpus kept apart from the tests: recordings of moving, speech-like F0 contours (110-240 Hz by default;
:func:`pitchprobe.data.synth.moving_utterance`, zero-phase harmonic synthesis, a fresh seed) written as WAV files,
gathered as one's own recordings (``gather_data.py --from-dir``) and labelled by every tracker through the
script a user runs (``make_pitch_data.py --tracker pyaapt,praat,swift``). Then, per tracker and voiced
stretch, the shift that best lines the stored labels (at ``first_centre_samples + k * hop_samples``) up with
the true F0 (:func:`pitchprobe.labels.calibrate.stretch_offsets`; a level bias is left out), and the median
absolute error of the labels in cents at their stored positions. Printed per tracker: the median shift over
stretches with its quartiles and its median per F0 band, the same at the nominal centres, and the error.

    python benchmarks/bench_timing.py [--utterances N] [--low 110] [--high 240] [--frame-length 25] [--work-dir DIR]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import soundfile as sf
from _common import work_dir

REPO = Path(__file__).resolve().parents[1]
NAME = "timing"
TRACKERS = ("pyaapt", "praat", "swift")
SEED = 20261208  # not a seed any test uses
BANDS_HZ = (110.0, 150.0, 200.0, 240.0)  # Hz, edges of the F0 bands the shifts are also given for


def _run(script: str, *args) -> None:
    out = subprocess.run([sys.executable, str(REPO / script), *map(str, args)], capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"{script} failed:\n{out.stdout}\n{out.stderr}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--utterances", type=int, default=40, help="recordings of about 4 s (default 40)")
    ap.add_argument("--low", type=float, default=110.0, help="lowest F0, Hz (default 110)")
    ap.add_argument("--high", type=float, default=240.0, help="highest F0, Hz (default 240)")
    ap.add_argument("--frame-length", type=float, default=25.0, help="label frame length, ms (default 25)")
    ap.add_argument("--work-dir", help="keep the corpus here (default: a temporary folder)")
    args = ap.parse_args()
    from pitchprobe.core.timing import samples_to_ms
    from pitchprobe.data.synth import SAMPLING_RATE, moving_utterance
    from pitchprobe.labels.calibrate import stretch_offsets
    from pitchprobe.labels.store import label_params, read_labels

    with work_dir(args.work_dir) as root:
        recordings, data = root / "recordings", root / "data"
        recordings.mkdir(parents=True, exist_ok=True)
        rng = np.random.default_rng(SEED)
        truth = {}
        for i in range(args.utterances):
            wave, f0 = moving_utterance(low_hz=args.low, high_hz=args.high, duration_s=4.0, rng=rng)
            sf.write(recordings / f"u{i:03d}.wav", wave, SAMPLING_RATE, subtype="FLOAT")
            truth[f"u{i:03d}"] = f0
        audio = sum(f.size for f in truth.values()) / SAMPLING_RATE
        common = ["--data-dir", data, "-q"]
        t0 = time.perf_counter()
        _run("gather_data.py", "--from-dir", recordings, "--name", NAME, *common)
        _run("make_pitch_data.py", NAME, "--tracker", ",".join(TRACKERS), "--frame-length", args.frame_length, *common)
        print(
            f"{args.utterances} recordings, {audio:.1f} s, F0 {args.low:g}-{args.high:g} Hz, frames "
            f"{args.frame_length:g} ms; gathered and labelled by {len(TRACKERS)} trackers in "
            f"{time.perf_counter() - t0:.1f} s"
        )
        for tracker in TRACKERS:
            params = label_params(data, NAME, tracker=tracker)
            placed, nominal, cents = [], [], []
            for split in ("train", "dev", "test"):
                for lab in read_labels(data, NAME, split, tracker=tracker).values():
                    if lab.status != "ok":
                        continue
                    f0, k = truth[lab.id], np.arange(lab.f0_hz.size)
                    stored = lab.first_centre_samples + lab.hop_samples * k
                    placed += stretch_offsets(lab.f0_hz, stored, f0)
                    nominal += stretch_offsets(lab.f0_hz, params.first_centre_samples() + lab.hop_samples * k, f0)
                    ok = (lab.f0_hz > 0) & (f0[stored] > 0)
                    cents.append(np.abs(1200 * np.log2(lab.f0_hz[ok] / f0[stored[ok]])))
            shifts = np.array([s for _, s, _ in placed])
            hz = np.array([h for _, _, h in placed])
            q1, mid, q3 = (samples_to_ms(v) for v in np.percentile(shifts, [25, 50, 75]))
            bands = ", ".join(
                f"{lo:g}-{hi:g} Hz {samples_to_ms(np.median(shifts[(hz >= lo) & (hz < hi)])):+.2f}"
                for lo, hi in zip(BANDS_HZ, BANDS_HZ[1:])
                if np.any((hz >= lo) & (hz < hi))
            )
            at_nominal = samples_to_ms(np.median([s for _, s, _ in nominal]))
            print(
                f"{tracker:<7}: {shifts.size} stretches; content from the stored position: median {mid:+.2f} ms "
                f"(quartiles {q1:+.2f}, {q3:+.2f}; by band {bands}); from the nominal centre {at_nominal:+.2f} ms; "
                f"median |error| {np.median(np.concatenate(cents)):.1f} cents"
            )


if __name__ == "__main__":
    main()
