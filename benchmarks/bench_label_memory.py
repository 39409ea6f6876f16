"""Peak memory of pYAAPT per audio second: the figure the label pool budgets its workers by.

Each duration runs in a fresh child process, which tracks one synthetic voiced signal (a 150 Hz tone with
vibrato and a second harmonic) with ``pitchprobe.labels.pitch.track`` and reports its peak RSS
(``ru_maxrss``) before and after. Printed: peak growth per audio second, to compare with
``pitchprobe.labels.pitch.MEMORY_PER_AUDIO_S`` (and the base, with ``MEMORY_BASE_BYTES``).

    python benchmarks/bench_label_memory.py [--seconds 30,60,120]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

CHILD = """
import json, resource, sys, time
import numpy as np
from pitchprobe.labels.pitch import track
import amfm_decompy.pYAAPT
sec = float(sys.argv[1])
t = np.arange(int(sec * 16000)) / 16000
phase = 2 * np.pi * np.cumsum(150 + 30 * np.sin(2 * np.pi * 0.5 * t)) / 16000
wav = 0.3 * np.sin(phase) + 0.1 * np.sin(2 * phase) + np.random.default_rng(0).normal(scale=0.01, size=t.size)
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
c0 = time.process_time()
track(wav)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"base": base, "peak": peak, "cpu": time.process_time() - c0}))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", default="30,60,120", help="comma-separated audio durations, s")
    args = ap.parse_args()
    from pitchprobe.labels.pitch import MEMORY_BASE_BYTES, MEMORY_PER_AUDIO_S

    print(f"budget: {MEMORY_BASE_BYTES / 1e6:.0f} MB + {MEMORY_PER_AUDIO_S / 1e6:.1f} MB per audio second")
    for sec in (float(s) for s in args.seconds.split(",")):
        out = subprocess.run([sys.executable, "-c", CHILD, str(sec)], capture_output=True, text=True, check=True)
        m = json.loads(out.stdout)
        grow = m["peak"] - m["base"]
        print(
            f"{sec:6.0f} s: base {m['base'] / 1e6:6.0f} MB, peak {m['peak'] / 1e6:6.0f} MB, "
            f"growth {grow / sec / 1e6:.2f} MB per audio s; CPU {m['cpu'] / sec:.3f} s per audio s"
        )


if __name__ == "__main__":
    main()
