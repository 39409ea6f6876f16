"""Each pitch tracker's cost and accuracy on one core, and its timing calibration's cost.

Over the same synthetic files (one pseudo-language, train split, known F0), for every tracker installed
(``pitchprobe.labels.trackers.TRACKERS``): CPU seconds per audio second of ``track_placed`` on waves already in
memory (one process, one thread); the wall time of its calibration (``calibrate_tracker``, what a labelling
run pays once per data root and settings) and what it measures; the median error against the true F0 and the
voicing agreement, with the truth taken at the nominal frame centres and where the labels are placed.

    python benchmarks/bench_trackers.py [--minutes M] [--work-dir DIR]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import soundfile as sf
from _common import CODE, build, work_dir


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=2.0, help="audio minutes (default 2)")
    ap.add_argument("--work-dir", help="keep the corpus here (default: a temporary folder)")
    args = ap.parse_args()
    from pitchprobe.data.manifest import read_manifest
    from pitchprobe.data.synth import true_f0_at
    from pitchprobe.labels.calibrate import calibrate_tracker
    from pitchprobe.labels.pitch import PitchParams
    from pitchprobe.labels.trackers import TRACKERS, TrackerMissingError, require, track_placed

    with work_dir(args.work_dir) as root:
        seconds = build(root, {"train": round(args.minutes * 60 / 5.0)}, labels=False)
        records = read_manifest(root, CODE)
        waves = [sf.read(r["path"], dtype="float64")[0] for r in records]
        truths = [np.load(root / "corpus" / "truth" / CODE / "train" / f"{r['id']}.npy") for r in records]
        audio = sum(seconds.values())
        print(f"{len(waves)} files, {audio:.1f} s of audio")
        for name in TRACKERS:
            try:
                require(name)
            except TrackerMissingError as e:
                print(f"{name:<7}: not installed ({e})")
                continue
            params = PitchParams(tracker=name)
            track_placed(name, waves[0], params=params)  # warm: imports, a detector's session
            c0 = time.process_time()
            labels = [track_placed(name, w, params=params) for w in waves]
            cpu = time.process_time() - c0
            line = f"{name:<7}: {cpu / audio:.4f} CPU s per audio s"
            t0 = time.perf_counter()
            timing = calibrate_tracker(name, params=params)
            seconds = time.perf_counter() - t0
            for where in ("nominal", "placed"):
                errs, agree, total = [], 0, 0
                for out, truth in zip(labels, truths):
                    f0 = out.f0_hz
                    moved = out.offset_samples + timing.applied_offset_samples if where == "placed" else 0
                    t = true_f0_at(truth, params.frame_centres(f0.size) + moved)
                    agree, total = agree + int(((t > 0) == (f0 > 0)).sum()), total + t.size
                    both = (t > 0) & (f0 > 0)
                    errs.append(np.abs(f0[both] - t[both]) / t[both])
                err = np.concatenate(errs)
                line += f" | {where}: median |error| {np.median(err):.3%}"
                line += f", >20 % {np.mean(err > 0.2):.2%}, voicing {agree / total:.1%}"
            ms = 1000 / timing.sampling_rate
            lo, hi = timing.nominal_range_ms()
            line += (
                f" | calibration {seconds:.2f} s, placement {timing.placement}: chirps "
                f"{timing.by_signal['chirp_pair'] * ms:+.2f} ms, vibrato {timing.by_signal['vibrato'] * ms:+.2f} ms, "
                f"offset {timing.offset_ms:+.2f} ± {timing.uncertainty_ms:.2f} ms, applied "
                f"{timing.applied_offset_samples} samples; at nominal centres {lo:+.2f} to {hi:+.2f} ms"
            )
            print(line)


if __name__ == "__main__":
    main()
