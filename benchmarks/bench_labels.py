"""Pitch-stage throughput, in audio seconds per wall second.

Three ways over the same files of a synthetic corpus (one pseudo-language, train split only):

- bare: ``amfm_decompy`` alone on one core, a loop of ``yaapt(SignalObj(wave, 16000), frame_length=25,
  frame_space=20)`` over waves already in memory (no file reading, no Parquet);
- ``make_labels(jobs=1)``: pitchprobe in this process (reads files, checks them, writes Parquet);
- ``make_labels(jobs=os.cpu_count())``: pitchprobe's worker pool.

Target: parallel / (cores x bare) >= 0.9. Each run recomputes (``overwrite=True``). The three ways run in
turn ``--repeat`` times and the fastest of each counts; CPU seconds (this process + its workers) are printed
too, so a run slowed by other load on the machine shows as wall >> CPU / cores.

    python benchmarks/bench_labels.py [--quick] [--minutes M] [--repeat R] [--work-dir DIR]
"""

from __future__ import annotations

import argparse
import os
import resource
import time
import warnings

import numpy as np
import soundfile as sf
from _common import CODE, build, work_dir


def cpu_seconds() -> float:
    """CPU seconds of this process and of its finished children."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def measure(fn) -> tuple[float, float]:
    """(wall, CPU) seconds of ``fn()``."""
    c0, t0 = cpu_seconds(), time.perf_counter()
    fn()
    return time.perf_counter() - t0, cpu_seconds() - c0


def bare(waves: list[np.ndarray]) -> None:
    """pYAAPT over ``waves`` in this process."""
    import amfm_decompy.basic_tools as basic
    import amfm_decompy.pYAAPT as pyaapt

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for w in waves:
            pyaapt.yaapt(basic.SignalObj(w, 16000), frame_length=25, frame_space=20)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="about 1 min of audio instead of 5")
    ap.add_argument("--minutes", type=float, help="audio minutes (overrides --quick)")
    ap.add_argument("--repeat", type=int, default=3, help="rounds of the three ways; the fastest of each counts")
    ap.add_argument("--work-dir", help="keep the corpus here (default: a temporary folder)")
    args = ap.parse_args()
    from pitchprobe.data.manifest import read_manifest
    from pitchprobe.labels.make import make_labels

    minutes = args.minutes or (1.0 if args.quick else 5.0)
    cores = os.cpu_count() or 1
    with work_dir(args.work_dir) as root:
        seconds = build(root, {"train": round(minutes * 60 / 5.0)}, labels=False)
        audio = sum(seconds.values())
        waves = [sf.read(r["path"], dtype="float64")[0] for r in read_manifest(root, CODE)]
        load = os.getloadavg()[0]
        print(f"{len(waves)} files, {audio:.1f} s of audio, {cores} cores, load average {load:.2f}")

        def labels(jobs: int) -> None:
            s = make_labels(CODE, root=root, jobs=jobs, overwrite=True, progress=False)
            assert s.computed == len(waves) and not s.failed, s

        ways = {
            "bare amfm_decompy, 1 core": lambda: bare(waves),
            "make_labels(jobs=1)": lambda: labels(1),
            f"make_labels(jobs={cores})": lambda: labels(cores),
        }
        runs: dict[str, list[tuple[float, float]]] = {name: [] for name in ways}
        for _ in range(args.repeat):
            for name, fn in ways.items():
                runs[name].append(measure(fn))
    best = {name: min(r) for name, r in runs.items()}  # fastest wall time, with its CPU time
    for name, (wall, cpu) in best.items():
        walls = ", ".join(f"{w:.2f}" for w, _ in runs[name])
        print(f"{name:<26}: {audio / wall:6.1f} audio s / s  (best {wall:.2f} s of [{walls}]; CPU {cpu:.2f} s)")
    rate = [audio / wall for wall, _ in best.values()]
    print(f"jobs=1 / bare             : {rate[1] / rate[0]:.3f}")
    print(f"parallel / (cores x bare) : {rate[2] / (cores * rate[0]):.3f}   (target >= 0.9)")
    print(f"load average at the end   : {os.getloadavg()[0]:.2f} (other work on the machine skews the figures)")


if __name__ == "__main__":
    main()
