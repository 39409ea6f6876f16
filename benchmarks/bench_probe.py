"""Wall time of the probe stage against a bare forward pass over the same audio.

A synthetic corpus (one pseudo-language, train/dev/test 3:1:1) is gathered and labelled, then, with one
model loaded once (load time printed apart):

- bare: ``backend.model(torch.tensor(wav, dtype=float32)[None], output_hidden_states=True)`` under
  ``torch.inference_mode``, one file at a time, over every file of every split (waves already in memory);
- probe: ``run_probe`` (reads files and labels, forwards, aligns, accumulates, fits, scores, writes
  predictions), over the same files.

Target: probe / bare <= 1.2. A warm-up forward runs first. Default model: random-init HuBERT-base.

    python benchmarks/bench_probe.py [--quick] [--minutes M] [--model hubert|fbank] [--work-dir DIR]
"""

from __future__ import annotations

import argparse
import os
import time

import soundfile as sf
import torch
from _common import CODE, build, describe, load_backend, split_counts, timed, work_dir


def bare(backend, waves) -> None:
    """The model alone over ``waves`` (HF: ``backend.model``; S3PRL: its upstream), one at a time."""
    with torch.inference_mode():
        for w in waves:
            x = torch.tensor(w, dtype=torch.float32)
            if hasattr(backend.model, "upstream"):  # S3PRL: the call pitchprobe's S3PRL backend makes
                backend.model.upstream([x])
            else:
                backend.model(x[None], output_hidden_states=True)


def clocked(owner, name: str, spent: dict[str, float]) -> None:
    """Wrap ``owner.name`` so that its wall time adds up in ``spent[name]`` (where the probe's time goes)."""
    fn = getattr(owner, name)

    def wrapper(*args, **kwargs):
        t0 = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            spent[name] = spent.get(name, 0.0) + time.perf_counter() - t0

    setattr(owner, name, wrapper)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="about 30 s of audio instead of 2 min")
    ap.add_argument("--minutes", type=float, help="audio minutes in all splits (overrides --quick)")
    ap.add_argument("--model", choices=("hubert", "fbank"), default="hubert")
    ap.add_argument("--work-dir", help="keep the corpus here (default: a temporary folder)")
    args = ap.parse_args()
    from pitchprobe.data.manifest import read_manifest
    from pitchprobe.probe import ridge
    from pitchprobe.probe.run import run_probe

    total = 60 * (args.minutes or (0.5 if args.quick else 2.0))
    with work_dir(args.work_dir) as root:
        counts = split_counts(total)
        seconds = build(root, counts, labels=True)
        audio = sum(seconds.values())
        waves = [sf.read(r["path"], dtype="float64")[0] for r in read_manifest(root, CODE)]
        print(
            f"{len(waves)} files, {audio:.1f} s of audio ({describe(seconds)}),"
            f" torch threads {torch.get_num_threads()}, load average {os.getloadavg()[0]:.2f}"
        )
        backend, t_load = timed(load_backend, args.model, root)
        print(f"model {args.model}: {backend.num_layers} layers, loaded in {t_load:.2f} s")
        bare(backend, waves[:1])  # warm-up
        _, t_bare = timed(bare, backend, waves)
        spent: dict[str, float] = {}
        clocked(ridge, "fit", spent)  # the solves: one eigh per layer and target
        clocked(ridge.Sums, "add", spent)  # float64 X^T X of train and dev frames
        clocked(type(backend), "forward", spent)
        res, t_probe = timed(run_probe, CODE, root=root, backend=backend, progress=False)
    assert not res.failures, res.failures
    print(f"bare forward, all splits : {t_bare:7.2f} s  ({audio / t_bare:.1f} audio s / s)")
    print(f"run_probe                : {t_probe:7.2f} s  ({audio / t_probe:.1f} audio s / s)")
    print(f"probe / bare             : {t_probe / t_bare:.3f}   (target <= 1.2)")
    parts = ", ".join(f"{k} {v:.2f} s" for k, v in spent.items())
    print(f"inside run_probe         : {parts}; rest {t_probe - sum(spent.values()):.2f} s")
    print(f"load average at the end  : {os.getloadavg()[0]:.2f} (other work on the machine skews the figures)")


if __name__ == "__main__":
    t0 = time.perf_counter()
    main()
    print(f"total {time.perf_counter() - t0:.0f} s")
