"""The report's tables about the data, the models and the pooled probes (from the results themselves)."""

from __future__ import annotations

import json

import pandas as pd

from pitchprobe.core.layout import RunLayout
from pitchprobe.probe.results import ProbeResult


def data_table(within: list[ProbeResult]) -> pd.DataFrame:
    rows = {}
    for res in within:
        lang, c = res.language, res.counts
        if lang["code"] in rows:
            continue
        rows[lang["code"]] = {
            "code": lang["code"],
            "lang_id": lang.get("lang_id"),
            "language": lang.get("language"),
            "group": lang.get("lang_group"),
            "tone class": lang.get("tone_class"),
            "hours": round(sum(c[s].audio_seconds for s in c) / 3600, 3),
            **{f"{s} utt": c[s].utterances for s in ("train", "dev", "test")},
            "failed": sum(c[s].failed for s in c),
            "dropped frames": sum(c[s].dropped_frames for s in c),
        }
    return pd.DataFrame(list(rows.values()))


def models_table(within: list[ProbeResult], layout: RunLayout | None = None) -> tuple[pd.DataFrame, dict]:
    """One row per model: its geometry, and (in a study) where its frames were measured to sit."""
    rows, software = {}, {}
    for res in within:
        m = res.model
        software = res.software or software
        path = layout.model_timing(res.tag) if layout is not None else None
        timing = json.loads(path.read_text()) if path is not None and path.is_file() else {}
        rows[res.tag] = {
            "model": res.tag,
            "name": m["name"],
            "backend": m["backend"],
            "random init": m["random_init"],
            "layers": m["num_layers"],
            "hop (samples)": m["hop_samples"],
            "first frame centre (samples)": m["first_centre_samples"],
            "measured offset (ms)": timing.get("offset_ms"),
            "click response, 90 % (ms)": timing.get("extent_ms"),
            "device": m["device"],
        }
    return pd.DataFrame(list(rows.values())), software


def pooled_text(records: dict[str, dict]) -> str:
    """What the pooled probes were fitted on, and the disk their sums took, per model (empty without them).

    ``records``: ``{model tag: pool record}`` of the pools behind the reported results
    (:func:`pitchprobe.analysis.reported.pool_records`)."""
    parts = []
    for tag, rec in sorted(records.items()):
        left = f", leaving out {', '.join(rec['excluded'])} (no fit)" if rec["excluded"] else ""
        parts.append(
            f"{tag}: {len(rec['languages'])} languages{left}, sums {rec['sums_bytes'] / 1e6:.0f} MB in all "
            f"({rec['sums_bytes'] / 1e6 / max(len(rec['languages']), 1):.1f} MB per language)"
        )
    if not parts:
        return ""
    return (
        " Pooled probes: fitted on the sum of every study language's train sums (alpha on the pooled dev sums); "
        "the probe that leaves a language out on the pooled sums minus its own. " + "; ".join(parts) + "."
    )


__all__ = ["data_table", "models_table", "pooled_text"]
