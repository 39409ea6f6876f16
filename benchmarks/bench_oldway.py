"""The old way (2022 prototype) against pitchprobe's streaming probe: time, peak memory, agreement.

A synthetic corpus (one pseudo-language, train/dev/test 3:1:1) is gathered and labelled. Then, each in a
fresh child process (so peak RSS, ``ru_maxrss``, is its own), with the model loaded once (load time apart):

- old: hidden states of every layer of every train and test utterance kept in lists of numpy arrays,
  aligned to the labels with ``pitchprobe.core.align.align`` (``backend.grid`` and the label record's
  ``FrameGrid``), stacked, and one scikit-learn ``LinearRegression`` per layer fitted on train (float64)
  and scored on test: MSE in Hz^2 over all aligned frames, unvoiced = 0 Hz;
- new: ``run_probe(alpha=0)``: least squares from streamed sums, fitted on train only (it also forwards
  dev, for its dev figures, but chooses nothing with alpha fixed); its per-layer test MSE is
  ``result["layers"][l]["f0_all"]["mse_hz2"]``.

Both should give the same per-layer test MSE up to rounding; the largest difference is printed.

    python benchmarks/bench_oldway.py [--quick] [--minutes M] [--model hubert|fbank] [--work-dir DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from _common import CODE, build, describe, load_backend, peak_rss_mib, split_counts, timed, work_dir


def old_way(root: Path, backend) -> list[float]:
    """Per-layer test MSE (Hz^2) the prototype's way: everything in memory, sklearn per layer."""
    from sklearn.linear_model import LinearRegression

    from pitchprobe.core.align import FrameGrid, align
    from pitchprobe.core.audio import load_audio
    from pitchprobe.data.manifest import read_manifest
    from pitchprobe.labels.store import read_labels

    states: dict[str, list[list[np.ndarray]]] = {}  # split -> utterance -> layer -> (T, D) float32
    targets: dict[str, list[np.ndarray]] = {}
    for split in ("train", "test"):
        labels = read_labels(root, CODE, split)
        states[split], targets[split] = [], []
        for rec in read_manifest(root, CODE, splits=(split,)):
            lab = labels[rec["id"]]
            (layers,) = backend.forward([load_audio(rec["path"])])
            hs = [h.cpu().numpy() for h in layers]
            grid = FrameGrid(first=lab.first_centre_samples, hop=float(lab.hop_samples))
            al = align(n_labels=lab.f0_hz.size, label_grid=grid, n_model=hs[0].shape[0], model_grid=backend.grid)
            states[split].append([h[al.model_index] for h in hs])
            targets[split].append(lab.f0_hz[al.label_index])
    y_train, y_test = np.concatenate(targets["train"]), np.concatenate(targets["test"])
    mse = []
    for layer in range(backend.num_layers):
        x_train = np.concatenate([u[layer] for u in states["train"]]).astype(np.float64)
        x_test = np.concatenate([u[layer] for u in states["test"]]).astype(np.float64)
        pred = LinearRegression().fit(x_train, y_train).predict(x_test)
        mse.append(float(np.mean((pred - y_test) ** 2)))
    return mse


def new_way(root: Path, backend) -> list[float]:
    from pitchprobe.probe.run import run_probe

    res = run_probe(CODE, root=root, backend=backend, alpha=0.0, progress=False).to_dict()
    assert not res["failures"], res["failures"]
    return [r["f0_all"]["mse_hz2"] for r in res["layers"]]


def child(root: Path, model: str, way: str) -> None:
    """Run in a fresh process: load, run one way, print one JSON line."""
    import pyarrow.parquet  # noqa: F401 - imports each way needs, outside its timing

    import pitchprobe.probe.run  # noqa: F401

    if way == "old":
        import sklearn.linear_model  # noqa: F401
    backend, t_load = timed(load_backend, model, root)
    mse, t_run = timed(old_way if way == "old" else new_way, root, backend)
    print(json.dumps({"load_s": t_load, "run_s": t_run, "peak_mib": peak_rss_mib(), "mse": mse}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="about 30 s of audio instead of 1 min")
    ap.add_argument("--minutes", type=float, help="audio minutes in all splits (overrides --quick)")
    ap.add_argument("--model", choices=("hubert", "fbank"), default="hubert")
    ap.add_argument("--work-dir", help="keep the corpus here (default: a temporary folder)")
    ap.add_argument("--child", choices=("old", "new"), help=argparse.SUPPRESS)
    ap.add_argument("--root", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(Path(args.root), args.model, args.child)
        return
    total = 60 * (args.minutes or (0.5 if args.quick else 1.0))
    with work_dir(args.work_dir) as root:
        counts = split_counts(total)
        seconds = build(root, counts, labels=True)
        print(f"model {args.model}; audio: {describe(seconds)}")
        out = {}
        for way in ("old", "new"):
            cmd = [sys.executable, __file__, "--child", way, "--root", str(root), "--model", args.model]
            proc = subprocess.run(cmd, capture_output=True, text=True, check=True)
            out[way] = json.loads(proc.stdout.strip().splitlines()[-1])
    old, new = out["old"], out["new"]
    print(f"{'':<34} {'load s':>7} {'run s':>7} {'peak MiB':>9}")
    print(f"{'old: in-memory + sklearn':<34} {old['load_s']:7.2f} {old['run_s']:7.2f} {old['peak_mib']:9.1f}")
    print(f"{'new: run_probe(alpha=0)':<34} {new['load_s']:7.2f} {new['run_s']:7.2f} {new['peak_mib']:9.1f}")
    a, b = np.array(old["mse"]), np.array(new["mse"])
    print(f"{'layer':>5} {'old MSE Hz^2':>13} {'new MSE Hz^2':>13} {'|diff|':>10}")
    for layer, (x, y) in enumerate(zip(a, b)):
        print(f"{layer:>5} {x:13.4f} {y:13.4f} {abs(x - y):10.2e}")
    diff = np.abs(a - b)
    print(f"max |MSE diff| = {diff.max():.3g} Hz^2 (max relative {np.max(diff / np.abs(a)):.2e})")
    print(f"load average at the end: {os.getloadavg()[0]:.2f} (other work on the machine skews the times)")


if __name__ == "__main__":
    main()
