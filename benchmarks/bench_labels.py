"""Pitch-stage throughput, in audio seconds per wall second.

Three ways over the same files of a synthetic corpus (one pseudo-language, train split only):

- bare: ``amfm_decompy`` alone on one core, a loop of ``yaapt(SignalObj(wave, 16000), frame_length=25,
  frame_space=20)`` over waves already in memory (no file reading, no Parquet);
- ``make_labels(jobs=1)``: pitchprobe in this process (reads files, checks them, writes Parquet);
- ``make_labels(jobs=os.cpu_count())``: pitchprobe's worker pool.

Target: parallel / (cores x bare) >= 0.9. Each run recomputes (``overwrite=True``).

    python benchmarks/bench_labels.py [--quick] [--minutes M] [--repeat R] [--work-dir DIR]
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

import numpy as np
import soundfile as sf
from _common import CODE, build, work_dir


def bare(waves: list[np.ndarray]) -> float:
    """Wall seconds of pYAAPT over ``waves`` in this process."""
    import amfm_decompy.basic_tools as basic
    import amfm_decompy.pYAAPT as pyaapt

    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for w in waves:
            pyaapt.yaapt(basic.SignalObj(w, 16000), frame_length=25, frame_space=20)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="about 1 min of audio instead of 5")
    ap.add_argument("--minutes", type=float, help="audio minutes (overrides --quick)")
    ap.add_argument("--repeat", type=int, default=1, help="runs of each way; the fastest counts")
    ap.add_argument("--work-dir", help="keep the corpus here (default: a temporary folder)")
    args = ap.parse_args()
    from pitchprobe.manifest import read_manifest
    from pitchprobe.pitch import make_labels

    minutes = args.minutes or (1.0 if args.quick else 5.0)
    cores = os.cpu_count() or 1
    with work_dir(args.work_dir) as root:
        seconds = build(root, {"train": round(minutes * 60 / 5.0)}, labels=False)
        audio = sum(seconds.values())
        waves = [sf.read(r["path"], dtype="float64")[0] for r in read_manifest(root, CODE)]
        print(f"{len(waves)} files, {audio:.1f} s of audio, {cores} cores")

        def best(fn) -> float:
            return min(fn() for _ in range(args.repeat))

        def labels(jobs: int) -> float:
            s = make_labels(CODE, root=root, jobs=jobs, overwrite=True, progress=False)
            assert s.computed == len(waves) and not s.failed, s
            return s.wall_seconds

        t_bare = best(lambda: bare(waves))
        t_one = best(lambda: labels(1))
        t_all = best(lambda: labels(cores))
    rate = {k: audio / t for k, t in (("bare", t_bare), ("one", t_one), ("all", t_all))}
    print(f"bare amfm_decompy, 1 core     : {t_bare:7.2f} s  {rate['bare']:7.1f} audio s / s")
    print(f"make_labels(jobs=1)           : {t_one:7.2f} s  {rate['one']:7.1f} audio s / s")
    print(f"make_labels(jobs={cores})           : {t_all:7.2f} s  {rate['all']:7.1f} audio s / s")
    print(f"jobs=1 / bare                 : {rate['one'] / rate['bare']:.3f}")
    print(f"parallel / (cores x bare)     : {rate['all'] / (cores * rate['bare']):.3f}   (target >= 0.9)")


if __name__ == "__main__":
    main()
