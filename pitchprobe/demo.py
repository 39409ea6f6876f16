"""The offline demo: a synthetic FLEURS-layout corpus with known F0, end to end.

1. :func:`pitchprobe.synth.write_corpus` writes three pseudo-languages (level
   tones, contour tones, intonation only), speakers in low and high registers,
   voiced and unvoiced stretches, in the FLEURS repository layout.
2. ``gather`` reads it through ``--source``, ``labels`` runs pYAAPT, and the
   labels are compared with the true F0.
3. ``probe`` runs for S3PRL ``fbank`` and for a random-init HuBERT-base
   (transformers ``HubertConfig()``: no download).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from .paths import data_dir as default_data_dir


def label_accuracy(*, root: Path, corpus: Path, code: str, split: str = "test") -> dict:
    """Compare stored pYAAPT labels with the synthetic truth.

    Returns
    -------
    dict
        ``frames``; ``voicing_agreement`` (fraction of frames where both agree
        on voiced/unvoiced); ``median_abs_rel_error`` and ``gross_error_rate``
        (fraction off by more than 20 %) over frames both call voiced.
    """
    from .pitch import read_labels
    from .synth import true_f0_at

    agree = total = 0
    rel = []
    for rec in read_labels(root, code, split).values():
        if rec.status != "ok":
            continue
        truth = np.load(corpus / "truth" / code / split / f"{rec.id}.npy")
        centres = rec.first_centre_samples + rec.hop_samples * np.arange(rec.f0_hz.size)
        t = true_f0_at(truth, centres)
        agree += int(((t > 0) == (rec.f0_hz > 0)).sum())
        total += t.size
        both = (t > 0) & (rec.f0_hz > 0)
        rel.append(np.abs(rec.f0_hz[both] - t[both]) / t[both])
    rel = np.concatenate(rel) if rel else np.array([])
    return {
        "frames": total,
        "voicing_agreement": agree / total if total else None,
        "median_abs_rel_error": float(np.median(rel)) if rel.size else None,
        "gross_error_rate": float((rel > 0.2).mean()) if rel.size else None,
    }


def run_demo(*, data_dir: str | None = None, seed: int = 0, device: str = "auto", progress: bool = True) -> dict:
    """Run the whole demo; print tables and where the results are. Returns ``{(code, model): result}``."""
    from transformers import HubertConfig

    from .cli import summary_text
    from .gather import LocalSource, gather
    from .languages import load_table
    from .pitch import make_labels
    from .synth import write_corpus

    t0 = time.perf_counter()
    root = Path(data_dir).expanduser().resolve() if data_dir else default_data_dir() / "demo"
    corpus = root / "fleurs-synth"
    print(f"pitchprobe demo -> {root}")
    write_corpus(corpus, seed=seed)
    table = load_table(corpus / "languages.tsv")
    langs = sorted(table.values(), key=lambda lang: lang.lang_id)
    print(f"1. synthetic corpus in the FLEURS layout: {corpus} ({', '.join(lang.code for lang in langs)})")
    for s in gather(langs, root=root, source=LocalSource(corpus)):
        print(f"   gathered {s.code}: {s.kept}")
    print("2. pYAAPT labels (25 ms frames every 20 ms), compared with the true F0 on the test split:")
    for lang in langs:
        s = make_labels(lang.code, root=root, progress=progress)
        acc = label_accuracy(root=root, corpus=corpus, code=lang.code)
        print(
            f"   {lang.code:<14} {s.total} utterances, {len(s.failed)} failed | voicing agreement "
            f"{acc['voicing_agreement']:.1%}, median |error| {acc['median_abs_rel_error']:.2%}, "
            f"gross errors (>20 %) {acc['gross_error_rate']:.1%}"
        )
    from .models import load_model
    from .probe import run_probe

    hubert_dir = root / "models" / "hubert-base-config"
    HubertConfig().save_pretrained(hubert_dir)  # config only: the architecture of hubert-base
    results = {}
    for label, kwargs in (
        ("fbank", {"name": "fbank"}),
        ("random-init HuBERT-base", {"name": str(hubert_dir), "random_init": True, "seed": seed}),
    ):
        backend = load_model(device=device, **kwargs)
        print(f"3. probe: {label} ({backend.num_layers} layers, on {backend.device})")
        for lang in langs:
            res = run_probe(lang.code, root=root, backend=backend, progress=progress)
            print(summary_text(res))
            results[(lang.code, label)] = res
    print(f"\ndone in {time.perf_counter() - t0:.0f} s. Results (JSON + test predictions): {root / 'results'}")
    print("Rerun any stage yourself, e.g.:")
    print(f"  python linear_regress.py zz_level --model fbank --data-dir {root} --languages {corpus / 'languages.tsv'}")
    return results
