"""Which results a report reads, and the list of those it does not.

In a study's run directory (one with ``config.json``), a result is reported only when its fingerprint
equals the one the study's configuration gives it now (:func:`pitchprobe.study.current.study_results`):
within-language results, transfers, pooled and leave-one-out probes alike. Every other result file is
**not reported**: stale (made under other settings or from other pooled languages; the fields that
differ named), unreadable, or of no unit of the study (a leftover); a result the study wants and does
not have is named too. So a recomputation that failed leaves no old number in any table or figure.

A run directory without ``config.json`` (results of ``pitchprobe probe``, say) has no configuration to
check against: every result in it is reported as it is, and the report says so.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path

import pandas as pd

from pitchprobe.core.layout import RunLayout
from pitchprobe.probe.results import ProbeResult, read_result
from pitchprobe.study.config import OTHERS, POOLED, StudyConfig, load_config, model_variants
from pitchprobe.study.current import OutputCheck, pool_record, study_results

UNCHECKED = (
    "This run directory has no config.json: its results were not made by a study, so there is no configuration "
    "to check them against; every result in it is reported as it is, whatever settings it was made with."
)


def load_results(run_dir: Path) -> list[tuple[str, ProbeResult]]:
    """``(kind, result)`` of every result in a run directory, current or not: kind ``within`` (results/) or
    ``transfer``. A report reads :func:`reported_results` instead.

    Raises
    ------
    SchemaError
        For a result this version cannot read (written before results had a schema).
    """
    return [(kind, read_result(p)) for kind, p in RunLayout(run_dir).result_jsons()]


@dataclass
class Reported:
    """What a report of ``run_dir`` reads (``results``, as ``(kind, result)``) and what it leaves out.

    ``config``: the study's configuration (None: bare results, none checked). ``stale`` and ``missing``: the
    study's outputs that are not current, or absent; ``leftovers``: result files of no unit of the study.
    """

    run_dir: Path
    config: StudyConfig | None
    results: list[tuple[str, ProbeResult]]
    stale: list[OutputCheck] = field(default_factory=list)
    missing: list[OutputCheck] = field(default_factory=list)
    leftovers: list[Path] = field(default_factory=list)

    @property
    def within(self) -> list[ProbeResult]:
        return [res for kind, res in self.results if kind == "within"]


def reported_results(run_dir: Path) -> Reported:
    """The results a report of ``run_dir`` reads (see the module docstring).

    A study's run directory is checked where it lies now: a copied or moved one reports its own files.
    """
    layout = RunLayout(run_dir)
    if not layout.config.is_file():
        return Reported(layout.root, None, load_results(layout.root))
    cfg = replace(load_config(layout.root), run_dir=str(layout.root))
    found = study_results(cfg)
    return Reported(layout.root, cfg, found.current, found.stale, found.missing, found.leftovers)


def pool_records(reported: Reported) -> dict[str, dict]:
    """``{model tag: pool record}`` of the pooled probes behind the reported results (in a study: current ones)."""
    layout = RunLayout(reported.run_dir)
    if reported.config is None:
        tags = sorted({res.tag for res in reported.within})
        paths = {tag: layout.pool_record(tag) for tag in tags}
        return {tag: json.loads(p.read_text()) for tag, p in paths.items() if p.is_file()}
    recs = {m.tag: pool_record(reported.config, m) for m in model_variants(reported.config)}
    return {tag: rec for tag, rec in recs.items() if rec is not None}


def _probe_name(check: OutputCheck) -> str:
    if check.name == check.unit.code:
        return "within-language"
    if check.name == POOLED:
        return "pooled probe"
    if check.name == OTHERS:
        return "leave-one-out probe"
    return f"transfer from {check.name}"


def not_reported_table(reported: Reported) -> pd.DataFrame:
    """One row per (model, probe, why) of the study's outputs left out: the test languages it holds for, and the
    fields that differ (``field: stored -> now``), so that a hundred languages stale alike take one row."""
    groups: dict[tuple[str, str, str], list[str]] = {}
    for check in reported.stale + reported.missing:
        why = "; ".join(check.differences) if check.exists else "no result (its unit failed, or has not run)"
        key = (check.unit.model_tag, _probe_name(check), why)
        groups.setdefault(key, []).append(check.unit.code)
    rows = [
        {"model": tag, "probe": probe, "languages": ", ".join(sorted(codes)), "n": len(codes), "why": why}
        for (tag, probe, why), codes in sorted(groups.items())
    ]
    return pd.DataFrame(rows, columns=["model", "probe", "languages", "n", "why"])


def not_reported_text(reported: Reported) -> str | None:
    """The report's "Not reported" paragraph (None when nothing is left out and the results were checked)."""
    if reported.config is None:
        return UNCHECKED
    parts = []
    if reported.stale or reported.missing:
        parts.append(
            "Results of this study that are not in any table, figure or test: made under other settings than its "
            "configuration now, or from other pooled languages (the fields that differ: stored -> now), unreadable, "
            "or missing."
        )
    if reported.leftovers:
        root = Path(reported.run_dir)
        names = ", ".join(str(p.relative_to(root)) for p in reported.leftovers[:20])
        more = f" and {len(reported.leftovers) - 20} more" if len(reported.leftovers) > 20 else ""
        parts.append(f"Results of no unit of this study (left out): {names}{more}.")
    return " ".join(parts) or None


__all__ = [
    "UNCHECKED",
    "Reported",
    "load_results",
    "not_reported_table",
    "not_reported_text",
    "pool_records",
    "reported_results",
]
