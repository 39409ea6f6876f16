"""Which of a study's outputs are current: made with the fingerprint this configuration gives them.

Every output of a unit (a fit's record, the pool's, a score unit's results) is checked against the
fingerprint of :func:`study_settings`, the same settings its unit writes into it,
and is **current**, **stale** (made under other settings, from other pooled languages, or unreadable; the
differing fields named) or **missing**. The study recomputes what is not current (stale only with
``overwrite``, but for a change of the languages pooled, which it recomputes on any rerun: the pool
follows the study's languages). The report reads only current results (:func:`study_results`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from pitchprobe.core.layout import ResultFiles, RunLayout
from pitchprobe.models.identity import ModelIdentity
from pitchprobe.probe.fingerprint import ProbeSettings, changed_fields, fingerprint_differences, probe_settings
from pitchprobe.probe.results import ProbeResult, SchemaError, read_result
from pitchprobe.study.config import FIT, OTHERS, POOL, POOLED, SCORE, StudyConfig, Unit, units_of

REFRESHED = ("pooled_languages", "languages")  # fields that change with the study's languages, not its settings


def study_settings(cfg: StudyConfig, model: ModelIdentity) -> ProbeSettings:
    """The fingerprint's inputs of ``model``'s results in this study: what its units write into them, and what
    what is on disk is checked against (one builder for both, :func:`pitchprobe.probe.fingerprint.probe_settings`).
    """
    return probe_settings(
        root=Path(cfg.data_dir),
        model=model,
        labels=cfg.params,
        model_offset=model_offset(cfg, model),
        alpha=cfg.alpha,
        gender=cfg.gender,
        postprocess=cfg.postprocess,
        dtype=cfg.dtype,
        sums_dtype=cfg.sums_dtype,
    )


def unit_fingerprint(
    cfg: StudyConfig,
    model: ModelIdentity,
    train_code: str,
    test_code: str | None,
    *,
    pooled_languages: list[str] | None = None,
) -> dict:
    """What a result of probes fitted on ``train_code`` and scored on ``test_code`` must have been made with.

    ``test_code`` None: what a fit (or the pool, ``train_code`` = ``pooled``) must have been made with.
    """
    return study_settings(cfg, model).fingerprint(
        train_language=train_code, test_language=test_code, pooled_languages=pooled_languages
    )


def model_offset(cfg: StudyConfig, model: ModelIdentity) -> float:
    """Samples the study places ``model``'s frames from their nominal centres: its timing measured in the run
    directory (0 before it is measured, and for a model that could not be; one unreadable or of another
    calibration is measured again when the model is next loaded)."""
    from pitchprobe.models.calibrate import cached_timing

    if cfg.run_dir is None:
        return 0.0
    timing = cached_timing(RunLayout(cfg.run_dir).model_timing(model.tag))
    return 0.0 if timing is None else float(timing["applied_offset_samples"])


@dataclass(frozen=True)
class OutputCheck:
    """One output of a unit against this configuration.

    ``name``: a score unit's output by its train language (``pooled``, ``others``), a fit's by its language,
    the pool's ``pooled``. ``differences``: ``field: stored -> wanted`` lines (none: current). ``result``: a
    score output's result, when it could be read.
    """

    unit: Unit
    name: str
    path: Path
    exists: bool
    differences: tuple[str, ...] = ()
    result: ProbeResult | None = field(default=None, compare=False, repr=False)

    @property
    def current(self) -> bool:
        return self.exists and not self.differences

    @property
    def stale(self) -> bool:
        return self.exists and bool(self.differences)

    @property
    def refreshed(self) -> bool:
        """Stale only because the study's languages changed (recomputed on any rerun, no ``overwrite`` needed)."""
        return self.stale and changed_fields(list(self.differences)) <= set(REFRESHED)


def read_record(path: Path) -> dict | None:
    """A JSON record, or None where there is none or it cannot be read."""
    try:
        return json.loads(path.read_text()) if path.is_file() else None
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        return None


def fit_record(cfg: StudyConfig, model: ModelIdentity, code: str) -> dict | None:
    """The record of ``code``'s fit if it is current (its fingerprint is this configuration's), else None."""
    rec = read_record(RunLayout(cfg.run_dir).fit_record(model.tag, code))
    if rec is None:
        return None
    want = study_settings(cfg, model).fingerprint(train_language=code, test_language=None)
    return None if fingerprint_differences(rec.get("fingerprint"), want) else rec


def _pool_differences(cfg: StudyConfig, model: ModelIdentity, rec: dict | None) -> list[str]:
    """Why the pool record ``rec`` is not current (none: it is): other settings, other study languages, or a
    language it had to leave out that has a fit now."""
    if not isinstance(rec, dict) or not isinstance(rec.get("languages"), list) or "excluded" not in rec:
        return ["pool record: unreadable"]
    want = study_settings(cfg, model).fingerprint(
        train_language=POOLED, test_language=None, pooled_languages=rec["languages"]
    )
    diff = fingerprint_differences(rec.get("fingerprint"), want)
    made_from = sorted(set(rec["languages"]) | set(rec["excluded"]))
    diff += fingerprint_differences({"languages": made_from}, {"languages": sorted(set(cfg.langs))})
    fitted = [c for c in rec["excluded"] if fit_record(cfg, model, c) is not None]
    diff += [f"languages: {c} left out (no fit), has a fit now" for c in fitted]
    return diff


def pool_record(cfg: StudyConfig, model: ModelIdentity) -> dict | None:
    """The pool's record if it is current: same settings, made from this study's languages, and no language it
    had to leave out has a fit now."""
    rec = read_record(RunLayout(cfg.run_dir).pool_record(model.tag))
    return None if _pool_differences(cfg, model, rec) else rec


def study_sums_fingerprint(cfg: StudyConfig, model: ModelIdentity, code: str) -> dict:
    """What ``code``'s sums are stored with: its fit's fingerprint and the sums' dtype."""
    fit = study_settings(cfg, model).fingerprint(train_language=code, test_language=None)
    return {"fit": fit, "sums_dtype": cfg.sums_dtype}


def sums_current(cfg: StudyConfig, model: ModelIdentity, code: str) -> bool:
    """Whether ``code``'s sums on disk were made by this configuration's fit (and stored in its dtype)."""
    from pitchprobe.probe.pool import sums_fingerprint

    path = RunLayout(cfg.run_dir).sums(model.tag, code)
    return path.is_file() and sums_fingerprint(path) == study_sums_fingerprint(cfg, model, code)


def score_outputs(cfg: StudyConfig, unit: Unit) -> dict[str, ResultFiles]:
    """``{train language: result files}`` of a score unit: its own, each train language's, pooled, others."""
    run = RunLayout(cfg.run_dir)
    out = {unit.code: run.within(unit.model_tag, unit.code)}
    for train in cfg.train_langs:
        if train != unit.code:
            out[train] = run.transfer(unit.model_tag, train, unit.code)
    if cfg.pooled:
        for train in (POOLED, OTHERS):
            out[train] = run.transfer(unit.model_tag, train, unit.code)
    return out


def check_outputs(cfg: StudyConfig, unit: Unit) -> list[OutputCheck]:
    """Each output of ``unit`` against this configuration (see :class:`OutputCheck`)."""
    run, settings = RunLayout(cfg.run_dir), study_settings(cfg, unit.model)
    if unit.kind == POOL:
        path = run.pool_record(unit.model_tag)
        rec = read_record(path)
        return [OutputCheck(unit, POOLED, path, path.is_file(), tuple(_pool_differences(cfg, unit.model, rec)))]
    if unit.kind == FIT:
        path = run.fit_record(unit.model_tag, unit.code)
        want = settings.fingerprint(train_language=unit.code, test_language=None)
        stored = (read_record(path) or {}).get("fingerprint")
        return [OutputCheck(unit, unit.code, path, path.is_file(), tuple(fingerprint_differences(stored, want)))]
    pool = pool_record(cfg, unit.model) if cfg.pooled else None
    out = []
    for train, files in score_outputs(cfg, unit).items():
        pooled = (pool or {}).get("languages", sorted(cfg.langs)) if train in (POOLED, OTHERS) else None
        want = settings.fingerprint(train_language=train, test_language=unit.code, pooled_languages=pooled)
        if not files.json.is_file():
            out.append(OutputCheck(unit, train, files.json, False))
            continue
        try:
            result = read_result(files.json)
        except SchemaError as e:
            why = str(e).replace(str(files.json), "the result")  # alike for every file, so grouped in a report
            out.append(OutputCheck(unit, train, files.json, True, (f"unreadable: {why}",)))
            continue
        diff = tuple(fingerprint_differences(result.fingerprint, want))
        out.append(OutputCheck(unit, train, files.json, True, diff, result))
    return out


def stale_outputs(cfg: StudyConfig, unit: Unit) -> tuple[list[str], dict[str, list[str]]]:
    """(outputs missing, ``{output: differences}`` of those not current) of a unit, by :attr:`OutputCheck.name`.

    A stale output whose only difference is the languages pooled is :attr:`~OutputCheck.refreshed`.
    """
    checks = check_outputs(cfg, unit)
    return [c.name for c in checks if not c.exists], {c.name: list(c.differences) for c in checks if c.stale}


def is_done(cfg: StudyConfig, unit: Unit) -> bool:
    """Whether ``unit``'s outputs are all current (a fit's sums too, while a pool still needs them)."""
    if unit.kind == FIT:
        if fit_record(cfg, unit.model, unit.code) is None:
            return False
        if not cfg.pooled or unit.code not in cfg.langs:
            return True
        return sums_current(cfg, unit.model, unit.code) or pool_record(cfg, unit.model) is not None
    if unit.kind == SCORE:
        return all(c.current for c in check_outputs(cfg, unit))
    return pool_record(cfg, unit.model) is not None


@dataclass
class StudyResults:
    """A study's results on disk: ``current`` as ``(kind, result)`` (kind ``within`` or ``transfer``), the
    ``stale`` and ``missing`` outputs of its score units, and ``leftovers``: result files of no unit."""

    current: list[tuple[str, ProbeResult]] = field(default_factory=list)
    stale: list[OutputCheck] = field(default_factory=list)
    missing: list[OutputCheck] = field(default_factory=list)
    leftovers: list[Path] = field(default_factory=list)


def study_results(cfg: StudyConfig) -> StudyResults:
    """Sort every result in ``cfg``'s run directory: current (made with this configuration), stale, or leftover
    (a model or language dropped from the study, a tag that changed with ``--seed`` or ``--s3prl-ckpt``)."""
    layout = RunLayout(cfg.run_dir)
    out, known = StudyResults(), set()
    for unit in units_of(cfg):
        if unit.kind != SCORE:
            continue
        for check in check_outputs(cfg, unit):
            known.add(check.path)
            if check.current:
                out.current.append(("within" if check.name == unit.code else "transfer", check.result))
            else:
                (out.stale if check.exists else out.missing).append(check)
    out.leftovers = [p for _, p in layout.result_jsons() if p not in known]
    return out


__all__ = [
    "REFRESHED",
    "OutputCheck",
    "StudyResults",
    "check_outputs",
    "fit_record",
    "is_done",
    "pool_record",
    "read_record",
    "score_outputs",
    "stale_outputs",
    "study_results",
    "study_settings",
    "unit_fingerprint",
    "model_offset",
    "study_sums_fingerprint",
    "sums_current",
]
