"""Peak memory of the probe stage at 1x and 4x the audio.

Two synthetic corpora (one pseudo-language, train/dev/test 3:1:1, utterances of the same lengths) are
gathered and labelled, one with 4x the utterances of the other. For each, a fresh child process loads the
model and runs ``run_probe``; at its end it reads its peak RSS with ``resource.getrusage(RUSAGE_SELF)``
(``ru_maxrss``, KiB on Linux). The peak after loading the model, before the probe, is printed as well:
the growth over it is what the probe itself adds.

Target: peak(4x) / peak(1x) <= 1.2 (the probe streams: memory should not depend on the amount of audio).

    python benchmarks/bench_memory.py [--quick] [--minutes M] [--model fbank|hubert] [--work-dir DIR]

1x is 2 min of audio for fbank, 30 s for HuBERT (``--quick``: a quarter of that); ``--minutes`` sets it.
``--mmap-threshold`` runs the children with ``MALLOC_MMAP_THRESHOLD_=1048576``: glibc then returns every
block of 1 MiB or more to the system when freed, instead of raising its threshold and reusing a heap that
fragments as forward passes of different lengths come and go (the growth seen with HuBERT).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from _common import CODE, build, load_backend, peak_rss_mib, split_counts, timed, work_dir


def child(root: Path, model: str) -> None:
    """Run in a fresh process: load, probe, print one JSON line of peaks (MiB) and times (s)."""
    from pitchprobe.probe.run import run_probe

    backend, t_load = timed(load_backend, model, root.parent)
    before = peak_rss_mib()
    res, t_probe = timed(run_probe, CODE, root=root, backend=backend, progress=False)
    assert not res.failures, res.failures
    out = {"load_s": t_load, "probe_s": t_probe, "peak_after_load_mib": before, "peak_mib": peak_rss_mib()}
    print(json.dumps(out))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a quarter of the audio")
    ap.add_argument("--minutes", type=float, help="audio minutes at 1x, all splits (overrides --quick)")
    ap.add_argument("--model", choices=("fbank", "hubert"), default="fbank")
    ap.add_argument("--work-dir", help="keep the corpora here (default: a temporary folder)")
    ap.add_argument("--mmap-threshold", action="store_true", help="MALLOC_MMAP_THRESHOLD_=1 MiB in children")
    ap.add_argument("--child", help=argparse.SUPPRESS)  # data root: run one measurement in this process
    args = ap.parse_args()
    if args.child:
        child(Path(args.child), args.model)
        return
    full = 2.0 if args.model == "fbank" else 0.5
    minutes = args.minutes or (full / 4 if args.quick else full)
    rows = []
    with work_dir(args.work_dir) as work:
        for scale in (1, 4):
            root = work / f"x{scale}"
            total = 60 * minutes * scale
            counts = split_counts(total)
            seconds = build(root, counts, labels=True)
            cmd = [sys.executable, __file__, "--child", str(root), "--model", args.model]
            env = dict(os.environ)
            if args.mmap_threshold:
                env["MALLOC_MMAP_THRESHOLD_"] = str(1 << 20)
            proc = subprocess.run(cmd, capture_output=True, text=True, check=True, env=env)
            res = json.loads(proc.stdout.strip().splitlines()[-1])
            rows.append((scale, sum(seconds.values()), sum(counts.values()), res))
    malloc = "MALLOC_MMAP_THRESHOLD_=1048576" if args.mmap_threshold else "default malloc settings"
    print(f"model {args.model}, {malloc}, load average {os.getloadavg()[0]:.2f}")
    head = ("size", "audio s", "utts", "probe s", "peak MiB", "after load", "growth")
    print(" ".join(f"{h:>{w}}" for h, w in zip(head, (4, 8, 5, 8, 9, 10, 7))))
    for scale, audio, utts, r in rows:
        growth = r["peak_mib"] - r["peak_after_load_mib"]
        print(
            f"{scale:>3}x {audio:8.1f} {utts:5d} {r['probe_s']:8.1f} {r['peak_mib']:9.1f} "
            f"{r['peak_after_load_mib']:10.1f} {growth:7.1f}"
        )
    (_, _, _, a), (_, _, _, b) = rows
    print(f"peak 4x / peak 1x      : {b['peak_mib'] / a['peak_mib']:.3f}   (target <= 1.2)")
    grow_a, grow_b = (r["peak_mib"] - r["peak_after_load_mib"] for r in (a, b))
    print(f"probe growth 4x / 1x   : {grow_b / max(grow_a, 1e-9):.3f}   ({grow_a:.1f} -> {grow_b:.1f} MiB)")


if __name__ == "__main__":
    main()
