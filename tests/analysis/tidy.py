"""A small hand-made tidy table (the columns :func:`pitchprobe.analysis.aggregate.tidy_table` writes), whose best
layers and values are known by construction."""

from __future__ import annotations

import numpy as np
import pandas as pd

LANGS = {  # code: (tone class, group)
    "aa_tone": ("tonal", "g1"),
    "bb_tone": ("tonal", "g1"),
    "cc_tone": ("tonal", "g2"),
    "dd_flat": ("non_tonal", "g2"),
    "ee_flat": ("non_tonal", "g3"),
}
TARGETS = (("f0_voiced", "r"), ("st_utt", "r_within"))


def _rows(tag, model, random_init, kind, train, code, values, dev):
    tone, group = LANGS[code]
    for layer, (v, d) in enumerate(zip(values, dev)):
        for target, metric in TARGETS:
            shift = 0.0 if target == "f0_voiced" else -0.1  # movement: 0.1 below pooled r
            yield {
                "code": code,
                "language": code,
                "lang_group": group,
                "tone_class": tone,
                "model": model,
                "model_tag": tag,
                "random_init": random_init,
                "train_language": train,
                "kind": kind,
                "layer": layer,
                "predictor": "probe",
                "target": target,
                "metric": metric,
                "value": v + shift,
                "ci_low": v + shift - 0.05,
                "ci_high": v + shift + 0.05,
                "n_utterances": 10,
                "n_frames": 500,
                "dev_mse": d,
            }


def tidy(codes=tuple(LANGS)) -> pd.DataFrame:
    """hubert: 4 layers, layer 2 lowest dev MSE in every language (value 0.8 + 0.02 i for the i-th language);
    its random-init control: 4 layers, layer 0 best (0.5 - 0.01 i); fbank: one layer (0.6 + 0.01 i); transfer
    from ``pooled`` and ``others`` for hubert at 0.1 and 0.2 below within."""
    rows = []
    for i, code in enumerate(codes):
        best = 0.8 + 0.02 * i
        rows += _rows("hubert", "hubert", False, "within", code, code, [0.3, 0.6, best, 0.7], [4, 3, 1, 2])
        control = [0.5 - 0.01 * i, 0.4, 0.3, 0.2]
        rows += _rows("hubert-random", "hubert", True, "within", code, code, control, [1, 2, 3, 4])
        rows += _rows("fbank", "fbank", False, "within", code, code, [0.6 + 0.01 * i], [1])
        for train, drop in (("pooled", 0.1), ("others", 0.2)):
            vals = [0.3 - drop, 0.6 - drop, best - drop, 0.7 - drop]
            rows += _rows("hubert", "hubert", False, "transfer", train, code, vals, [4, 3, 1, 2])
    df = pd.DataFrame(rows)
    df["value"] = df["value"].astype(np.float64)
    return df
