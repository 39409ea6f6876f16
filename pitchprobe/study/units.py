"""What each unit of a study does, and when it is done: fit, pool and score (:data:`~pitchprobe.study.config.PHASES`).

- **fit** (language, model): one pass over the train and dev splits; the language's own probes, a
  record of what the pass saw (counts, failures, fingerprint) and, with ``pooled``, its sums.
- **pool** (model): the pooled probe (every study language's sums added) and, for each language,
  the probe that leaves it out (pooled minus its own sums); no forward pass. The sums are then
  deleted unless ``keep_sums``.
- **score** (language, model): one pass over the test split, scoring at once every probe that
  applies: its own, each ``--train-lang``'s, the pooled one and the one that leaves it out.

So each utterance goes through each model once per study, whatever the transfer matrix. A unit is
done when every output it would write exists with the fingerprint this configuration gives it
(:mod:`pitchprobe.study.current`); only what is not done is recomputed (a score unit writes only its
results that are not current).
"""

from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import Path

from pitchprobe.core.atomic import write_json
from pitchprobe.core.errors import PitchProbeError
from pitchprobe.core.layout import RunLayout
from pitchprobe.labels.store import label_params
from pitchprobe.models.base import Backend, resolve_device
from pitchprobe.probe import core
from pitchprobe.probe.frames import Failure, RunState, SplitCounts
from pitchprobe.study.config import FIT, OTHERS, POOLED, SCORE, StudyConfig, Unit
from pitchprobe.study.current import (
    fit_record,
    pool_record,
    read_record,
    score_outputs,
    stale_outputs,
    study_settings,
    study_sums_fingerprint,
    sums_current,
    unit_fingerprint,
)


def _state(records: list[dict]) -> RunState:
    """The train and dev counts, and the failures, of the fits behind one probe (summed over languages)."""
    state = RunState()
    for rec in records:
        for split in ("train", "dev"):
            c = SplitCounts(**rec["counts"][split])
            total = state.counts[split]
            for k, v in asdict(c).items():
                setattr(total, k, getattr(total, k) + v)
        state.failures += [Failure(**f) for f in rec["failures"]]
    return state


def run_fit(cfg: StudyConfig, unit: Unit, backend: Backend) -> None:
    """One pass over the train and dev splits of ``unit.code``: its probes, its record, its sums (``pooled``)."""
    from pitchprobe.probe.pool import save_sums
    from pitchprobe.probe.run import accumulate

    t0 = time.perf_counter()
    run, root, tag = RunLayout(cfg.run_dir), Path(cfg.data_dir), unit.model_tag
    state = RunState()
    source = cfg.params.tracker
    kw = {"gender": cfg.gender, "fail_fast": cfg.fail_fast, "progress": False, "state": state, "labels": source}
    sums = accumulate(unit.code, root=root, backend=backend, **kw)
    params = label_params(root, unit.code, tracker=source)
    probes = core.fit(sums["train"], sums["dev"], code=unit.code, params=params, alpha=cfg.alpha)
    probes.save(run.probes(tag, unit.code))
    size = None
    if cfg.pooled and unit.code in cfg.langs:
        fp = study_sums_fingerprint(cfg, unit.model, unit.code)
        size = save_sums(run.sums(tag, unit.code), sums, dtype=cfg.sums_dtype, fingerprint=fp)
    else:  # sums an earlier configuration left are not this fit's
        run.sums(tag, unit.code).unlink(missing_ok=True)
    record = {
        "fingerprint": unit_fingerprint(cfg, unit.model, unit.code, None),
        "code": unit.code,
        "counts": {s: asdict(state.counts[s]) for s in ("train", "dev")},
        "failures": [asdict(f) for f in state.failures],
        "seconds": time.perf_counter() - t0,
        "sums_bytes": size,
    }
    write_json(run.fit_record(tag, unit.code), record)


def run_pool(cfg: StudyConfig, unit: Unit) -> None:
    """The pooled probe and every leave-one-out probe of ``unit.model``, from the fitted languages' sums."""
    from pitchprobe.probe.pool import leave_out, pool_sums

    t0 = time.perf_counter()
    run, tag, root = RunLayout(cfg.run_dir), unit.model_tag, Path(cfg.data_dir)
    records = {c: fit_record(cfg, unit.model, c) for c in cfg.langs}
    langs = [c for c in cfg.langs if records[c] is not None]
    excluded = {c: _unit_reason(cfg, Unit(FIT, unit.model, c)) for c in cfg.langs if records[c] is None}
    if len(langs) < 2:
        raise PitchProbeError(f"pooled probes need at least two languages with a fit ({len(langs)} have one)")
    missing = [c for c in langs if not sums_current(cfg, unit.model, c)]
    if missing:  # their fit units are not done then, and run before the pool: only a fit that failed just now
        raise PitchProbeError(f"no current sums of {', '.join(missing)}")
    params, kw = label_params(root, langs[0], tracker=cfg.params.tracker), {"alpha": cfg.alpha}
    device = resolve_device(cfg.device)  # the fits' eigendecompositions on the GPU where there is one
    pooled = pool_sums((run.sums(tag, c) for c in langs), device=device)
    core.fit(pooled["train"], pooled["dev"], code=POOLED, params=params, **kw).save(run.probes(tag, POOLED))
    for c in langs:
        rest = leave_out(pooled, run.sums(tag, c))
        core.fit(rest["train"], rest["dev"], code=OTHERS, params=params, **kw).save(run.probes(tag, f"{OTHERS}--{c}"))
    record = {
        "fingerprint": unit_fingerprint(cfg, unit.model, POOLED, None, pooled_languages=langs),
        "languages": sorted(langs),
        "excluded": excluded,
        "seconds": time.perf_counter() - t0,
        "sums_bytes": sum(run.sums(tag, c).stat().st_size for c in langs),
    }
    write_json(run.pool_record(tag), record)
    if not cfg.keep_sums and not excluded:  # needed no more (kept while a failed fit may be retried and pooled)
        for c in langs:
            run.sums(tag, c).unlink(missing_ok=True)


def _unit_reason(cfg: StudyConfig, unit: Unit) -> str:
    status = read_record(RunLayout(cfg.run_dir).unit_status(unit.uid)) or {}
    return status.get("reason") or "no fit"


def run_score(cfg: StudyConfig, unit: Unit, backend: Backend) -> dict[str, str]:
    """One pass over ``unit.code``'s test split scoring every probe whose result is missing; ``{train: reason}``
    of those that could not be scored (their fit failed), which the unit reports."""
    from pitchprobe.probe.core import Probes
    from pitchprobe.probe.score import ScoreTarget, score_targets

    run, tag, code = RunLayout(cfg.run_dir), unit.model_tag, unit.code
    missing, stale = stale_outputs(cfg, unit)
    outputs = score_outputs(cfg, unit)
    todo = [t for t in outputs if t in set(missing) | set(stale)]
    pool = pool_record(cfg, unit.model) if cfg.pooled else None
    problems, targets = {}, []
    for train in todo:
        if train in (POOLED, OTHERS):
            if pool is None:
                problems[train] = "no pooled probes"
                continue
            langs = pool["languages"] if train == POOLED else [c for c in pool["languages"] if c != code]
            recs = [fit_record(cfg, unit.model, c) for c in langs]
            if any(r is None for r in recs):
                problems[train] = "a pooled language's fit record is gone"
                continue
            # a language left out of the pool (its fit failed) has the pooled probe as its leave-one-out probe
            name = f"{OTHERS}--{code}" if train == OTHERS and code in pool["languages"] else POOLED
            notes = {"pooled_languages": langs, "excluded_languages": pool["excluded"]}
            targets.append(
                ScoreTarget(
                    Probes.load(run.probes(tag, name)),
                    outputs[train],
                    fit_state=_state(recs),
                    predictions=train == POOLED or cfg.all_predictions,
                    fit_seconds=pool["seconds"],
                    pooled_languages=pool["languages"],
                    notes=notes,
                )
            )
            continue
        rec = fit_record(cfg, unit.model, train)
        if rec is None:
            problems[train] = f"no fit of {train}: {_unit_reason(cfg, Unit(FIT, unit.model, train))}"
            continue
        targets.append(
            ScoreTarget(
                Probes.load(run.probes(tag, train)),
                outputs[train],
                fit_state=_state([rec]),
                predictions=train == code or cfg.all_predictions,
                fit_seconds=rec["seconds"],
            )
        )
    if targets:
        score_targets(
            targets,
            code,
            root=Path(cfg.data_dir),
            backend=backend,
            settings=study_settings(cfg, unit.model),
            fail_fast=cfg.fail_fast,
            progress=False,
        )
    return problems


def run_work(cfg: StudyConfig, unit: Unit, backend: Backend | None) -> str | None:
    """Do ``unit``; return a note of the results it could not make because another unit failed (a score's
    transfer from a language whose fit failed: that fit's failure is recorded already), else None."""
    if unit.kind == FIT:
        run_fit(cfg, unit, backend)
    elif unit.kind == SCORE:
        problems = run_score(cfg, unit, backend)
        if unit.code in problems:  # its own result: this unit's failure
            raise PitchProbeError(problems[unit.code])
        if problems:
            return "no result for " + "; ".join(f"{t}: {r}" for t, r in sorted(problems.items()))
    else:
        run_pool(cfg, unit)
    return None


__all__ = ["run_fit", "run_pool", "run_score", "run_work"]
