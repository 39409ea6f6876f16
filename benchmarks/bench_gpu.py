"""Extraction speed in audio seconds per wall second, on the GPU where there is one (else the CPU).

For each model (random init, no download): a HuBERT-base config (group-norm feature encoder) and a
WavLM-large-style config (layer norm, 24 layers of 1024), over the same synthetic corpus:

- (a) bare batched forward: ``backend.forward`` over length-sorted batches of waves already in memory;
- (b) the full probe reading from disk: ``run_probe`` (train, dev and test: audio, labels, alignment, sums);
- (c) the previous one-at-a-time path: ``backend.forward`` of one utterance at a time (``batch_size=1``).

Printed: the device name, each figure, (b) / (a) and (a) / (c). Targets on an H100: (b) >= 0.85 x (a) and
(b) >= 1,000x real time for HuBERT-base; on a CPU, batching must not be slower, (a) / (c) >= 1.

    python benchmarks/bench_gpu.py [--quick] [--minutes M] [--models hubert,wavlm-large] [--dtype float32]
        [--batch-size 8] [--device auto] [--work-dir DIR]
"""

from __future__ import annotations

import argparse
import time

import soundfile as sf
from _common import CODE, build, split_counts, work_dir


def configs(root):
    """``{name: save_pretrained folder}`` of the two random-init models."""
    from transformers import HubertConfig, WavLMConfig

    out = {}
    for name, cfg in (
        ("hubert", HubertConfig()),
        (
            "wavlm-large",
            WavLMConfig(
                hidden_size=1024,
                num_hidden_layers=24,
                num_attention_heads=16,
                intermediate_size=4096,
                feat_extract_norm="layer",
                do_stable_layer_norm=True,
            ),
        ),
    ):
        path = root / f"{name}-config"
        if not (path / "config.json").is_file():
            cfg.save_pretrained(path)
        out[name] = path
    return out


def sync(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def forward_all(backend, waves, *, batch_size: int) -> float:
    """Wall seconds of a forward over ``waves`` in length-sorted batches."""
    from pitchprobe.core.audio import SAMPLING_RATE
    from pitchprobe.probe.frames import buckets

    limit = backend.max_batch_seconds * SAMPLING_RATE
    groups = buckets([len(w) for w in waves], batch_size=batch_size, max_batch_samples=limit)
    backend.forward([waves[0]])  # warm-up
    sync(backend.device)
    t0 = time.perf_counter()
    for g in groups:
        backend.forward([waves[i] for i in g])
    sync(backend.device)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="about 1 min of audio instead of 5")
    ap.add_argument("--minutes", type=float, help="audio minutes (overrides --quick)")
    ap.add_argument("--models", default="hubert,wavlm-large")
    ap.add_argument("--dtype", default="float32")
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--work-dir")
    args = ap.parse_args()
    import torch

    from pitchprobe.data.manifest import read_manifest
    from pitchprobe.models import load_model
    from pitchprobe.probe.run import run_probe

    minutes = args.minutes or (1.0 if args.quick else 5.0)
    with work_dir(args.work_dir) as root:
        seconds = build(root, split_counts(minutes * 60), labels=True)
        audio = sum(seconds.values())
        waves = [sf.read(r["path"], dtype="float32")[0] for r in read_manifest(root, CODE)]
        for name in args.models.split(","):
            path = configs(root)[name]
            kw = {"random_init": True, "device": args.device, "dtype": args.dtype}
            batched = load_model(str(path), batch_size=args.batch_size, **kw)
            device = batched.device
            cpu = f"CPU ({torch.get_num_threads()} threads)"
            label = torch.cuda.get_device_name(device) if device.type == "cuda" else cpu
            a = forward_all(batched, waves, batch_size=args.batch_size)
            t0 = time.perf_counter()
            out = root / "results" / name / "r.json"
            res = run_probe(CODE, root=root, backend=batched, alpha=1.0, output=out, progress=False)
            sync(device)
            b = time.perf_counter() - t0
            single = load_model(str(path), batch_size=1, **kw)
            c = forward_all(single, waves, batch_size=1)
            pad = sum(res.counts[s].padding_seconds for s in res.counts)
            print(f"{name} on {label}, dtype {args.dtype}, {len(waves)} files, {audio:.0f} s of audio:")
            print(f"  (a) bare batched forward   : {audio / a:8.1f} x real time")
            print(f"  (b) full probe from disk   : {audio / b:8.1f} x real time  (padding {pad / (pad + audio):.1%})")
            print(f"  (c) one at a time          : {audio / c:8.1f} x real time")
            print(f"  (b) / (a) = {a / b:.3f}   (a) / (c) = {c / a:.3f}")
            del batched, single
            if device.type == "cuda":
                torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
