"""``pitchprobe study``: many languages x several models, resumable, in one run directory.

A study is a list of units (:mod:`pitchprobe.study.config`) in three phases per model
(:mod:`pitchprobe.study.units`): a **fit** per language (one pass over its train and dev splits),
the **pool** (pooled and leave-one-language-out probes, from the fits' sums, with ``pooled``), and a
**score** per language (one pass over its test split scoring every probe that applies: its own,
each ``--train-lang``'s, the pooled ones). Each utterance thus goes through each model once per
study, whatever the transfer matrix. Every language is gathered and labelled first, before any
model runs.

A unit is done when its outputs exist *and* carry the fingerprint this configuration gives them; a
rerun skips it. A result made under another configuration is never reused: the study stops and
names the differing fields, unless ``overwrite`` asks for it to be recomputed; outputs made from other
pooled languages are recomputed on any rerun, and the summary names why (``StudySummary.recomputed``).
Units run in this process (``executor="local"``: model by model, each loaded once) or as jobs through ``submitit``
(``"slurm"``; ``"submitit-local"`` runs the same path locally, for testing): every fit job of a phase
before the pool, the pool before the score jobs, ``langs_per_job`` languages of one model per job.
Its results are then aggregated, tested, plotted and reported by the next stage,
:func:`pitchprobe.analysis.report.make_report` (``pitchprobe study`` runs both), which reads only the
results that are current (:mod:`pitchprobe.study.current`). The run directory's layout is
:class:`pitchprobe.core.layout.RunLayout`'s.
"""

from __future__ import annotations

import json
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from tqdm.auto import tqdm

from pitchprobe.core.atomic import ensure_writable, remove_temporary, write_json
from pitchprobe.core.errors import PitchProbeError, UnknownNameError, describe
from pitchprobe.core.layout import RunLayout, default_run_dir, label_params_path
from pitchprobe.core.lock import file_lock
from pitchprobe.labels.pitch import PitchParams
from pitchprobe.models.base import Backend
from pitchprobe.models.identity import ModelIdentity
from pitchprobe.study.config import EXECUTORS, PHASES, POOL, StudyConfig, Unit, load_config, resolved, units_of
from pitchprobe.study.current import check_outputs, is_done, stale_outputs
from pitchprobe.study.jobs import job_groups, log_jobs, submitit_executor
from pitchprobe.study.prepare import ensure_labelled, needed_languages, prepare_languages
from pitchprobe.study.units import run_work


@dataclass
class UnitStatus:
    """What became of one unit: written to ``units/<uid>.json``."""

    unit: str
    kind: str
    model: dict
    code: str
    status: str = "running"  # done or failed
    reason: str | None = None  # why it failed; for a done unit, what it could not make for another's failure
    traceback: str | None = None
    seconds: float = 0.0


Loader = Callable[[ModelIdentity], Backend]


def _backend(cfg: StudyConfig, model: ModelIdentity, backends: dict, loader: Loader | None) -> Backend:
    """``model``'s backend, loaded once per process (one model in memory at a time), its frames placed where
    they were measured to sit (once per run directory). A ``loader``'s backends are used as they are."""
    from pitchprobe.models import load_model
    from pitchprobe.models.calibrate import place_frames

    if model not in backends:
        backends.clear()
        if loader is not None:
            backends[model] = loader(model)
        else:
            backend = load_model(
                model,
                device=cfg.device,
                batch_size=cfg.batch_size,
                max_batch_seconds=cfg.max_batch_seconds,
                dtype=cfg.dtype,
                force_dtype=cfg.force_dtype,
                trust_checkpoint=cfg.trust_checkpoint,
            )
            place_frames(backend, cache=RunLayout(cfg.run_dir).model_timing(backend.tag))
            backends[model] = backend
    return backends[model]


def run_unit(
    cfg: StudyConfig,
    unit: Unit,
    backends: dict | None = None,
    *,
    prepared: dict[str, str] | None = None,
    loader: Loader | None = None,
) -> UnitStatus:
    """Run one unit; return its status record (also written to ``units/<uid>.json``).

    ``backends`` is an optional ``{ModelIdentity: Backend}`` the caller keeps to load each model
    once; ``loader(identity)`` loads one (default :func:`pitchprobe.models.load_model` with the
    study's device, batch and dtype). ``prepared``: the caller gathered and labelled every language
    already (:func:`prepare_languages`), and these ``{code: reason}`` failed; None prepares the
    unit's language here.
    """
    t0 = time.perf_counter()
    status = UnitStatus(unit.uid, unit.kind, unit.model.as_dict(), unit.code)
    try:
        if unit.kind != POOL:
            if prepared is None:
                ensure_labelled(cfg, [unit.code])
            elif unit.code in prepared:
                raise PitchProbeError(prepared[unit.code])
        backend = None if unit.kind == POOL else _backend(cfg, unit.model, {} if backends is None else backends, loader)
        status.reason = run_work(cfg, unit, backend)  # a note of results another unit's failure prevented
        status.status = "done"
    except (PitchProbeError, OSError) as e:  # expected faults: bad input, a full disk
        status.status, status.reason = "failed", describe(e)
    except Exception as e:  # noqa: BLE001 - any other failure (a model's) fails this unit, not the study
        status.status, status.reason = "failed", describe(e)
        status.traceback = traceback.format_exc()
    status.seconds = time.perf_counter() - t0
    write_json(RunLayout(cfg.run_dir).unit_status(unit.uid), asdict(status))
    return status


def run_units(
    cfg: StudyConfig, units: list[Unit], *, prepared: dict[str, str] | None = None, loader: Loader | None = None
) -> list[UnitStatus]:
    """One job: ``units`` in order, each model loaded once (with ``fail_fast``, up to the first failure)."""
    backends: dict = {}
    out = []
    for unit in units:
        out.append(run_unit(cfg, unit, backends, prepared=prepared, loader=loader))
        if cfg.fail_fast and out[-1].status != "done":
            break
    return out


@dataclass
class StudySummary:
    done: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (unit, reason)
    failed_languages: dict[str, str] = field(default_factory=dict)  # code -> why it could not be gathered/labelled
    recomputed: dict[str, list[str]] = field(default_factory=dict)  # why outputs were remade: difference -> outputs
    run_dir: Path | None = None
    report: Path | None = None  # the report of this run, once the next stage wrote it (analysis.report.make_report)

    def text(self) -> str:
        lines = [
            f"units: {len(self.done)} done now, {len(self.skipped)} skipped (done before), {len(self.failed)} failed"
        ]
        lines += [f"  failed {u}: {r}" for u, r in self.failed]
        if self.recomputed:
            lines.append("recomputed, made under other settings or from other languages:")
            for why, outputs in self.recomputed.items():
                more = f" and {len(outputs) - 4} more" if len(outputs) > 4 else ""
                lines.append(f"  {why}: {', '.join(outputs[:4])}{more}")
        if self.failed_languages:
            lines.append(f"languages: {len(self.failed_languages)} could not be gathered or labelled")
            lines += [f"  {code}: {reason}" for code, reason in self.failed_languages.items()]
        return "\n".join(lines)


def _check_labels(cfg: StudyConfig) -> dict[tuple[str, str], str]:
    """``{(code, tracker): how}`` of labels in the data root made otherwise than the study would make them: with
    other settings, or at another offset than the tracker is measured at now (another version of it, say)."""
    from pitchprobe.labels.make import labels_placement, moved_from, placement_text

    root = Path(cfg.data_dir)
    out = {}
    for code in sorted({*cfg.langs, *cfg.train_langs}):
        for tracker in cfg.trackers:
            want = cfg.tracker_params(tracker)
            path = label_params_path(root, code, tracker=tracker)
            if not path.is_file():
                continue
            stored = PitchParams.from_json(json.loads(path.read_text()))
            if stored != want:
                out[code, tracker] = f"made with {stored.as_json()}, not {want.as_json()}"
                continue
            now = labels_placement(root, want)
            was = moved_from(root, code, want, now)
            if was is not None:
                out[code, tracker] = f"are placed {placement_text(was)}, but {tracker} is now {placement_text(now)}"
    return out


def _prepare(cfg: StudyConfig) -> tuple[StudyConfig, list[Unit]]:
    """:func:`prepare`, plus the units not done yet (whose languages are gathered and labelled first)."""
    if cfg.executor not in EXECUTORS:
        raise UnknownNameError("executor", cfg.executor, EXECUTORS)
    cfg = resolved(cfg)
    if cfg.run_dir is None:
        cfg = replace(cfg, run_dir=str(default_run_dir(Path(cfg.data_dir))))
    problems, todo = [], []
    for unit in units_of(cfg):
        # a change of the languages pooled is no conflict: the pool follows the study's languages
        stale = [c for c in check_outputs(cfg, unit) if c.stale and not c.refreshed]
        problems += [f"{unit.uid}: {c.name}: " + "; ".join(c.differences) for c in stale]
        if not is_done(cfg, unit):
            todo.append(unit)
    labels = _check_labels(cfg)
    if (problems or labels) and not cfg.overwrite:
        lines = ["this run directory holds results made under another configuration:", *problems[:20]]
        if len(problems) > 20:
            lines.append(f"... and {len(problems) - 20} more")
        if labels:
            lines.append("the data root's labels differ from the study's:")
            lines += [f"{code}: {tracker} labels {how}" for (code, tracker), how in labels.items()]
        lines.append(f"pass --overwrite to recompute them, or use a new --run-dir (now {cfg.run_dir})")
        raise PitchProbeError("\n  ".join(lines))
    if labels:  # --overwrite: relabel those languages once, here, before any unit runs
        from pitchprobe.labels.make import make_labels

        for code, tracker in labels:
            make_labels(
                code,
                root=Path(cfg.data_dir),
                params=cfg.tracker_params(tracker),
                jobs=cfg.jobs,
                overwrite=True,
                fail_fast=cfg.fail_fast,
                progress=False,
            )
    return cfg, todo


def prepare(cfg: StudyConfig) -> StudyConfig:
    """Resolve ``cfg`` and check it against what is on disk; raise if stale results would be reused.

    Raises
    ------
    PitchProbeError
        Naming each unit whose results were made under another configuration,
        and the fields that differ, unless ``cfg.overwrite``.
    """
    return _prepare(cfg)[0]


def run_study(cfg: StudyConfig, *, progress: bool = True, loader: Loader | None = None) -> StudySummary:
    """Run every unit not done yet, phase by phase; the summary says what ran, failed and was recomputed, and
    ``run_dir`` where (the report is the next stage's: :func:`pitchprobe.analysis.report.make_report`).

    One study at a time runs in a run directory (its lock; a second one
    waits, then skips what the first finished). Every language the units need
    is gathered and labelled first, once, locally and under SLURM alike.
    ``loader(identity)`` loads a model (local executor only; see :func:`run_unit`).
    """
    run_dir = Path(cfg.run_dir) if cfg.run_dir else default_run_dir(Path(cfg.data_dir))
    run = RunLayout(ensure_writable(run_dir))
    with file_lock(run.lock, what=f"the study in {run.root}"):
        if cfg.executor == "local":  # no one else writes here now (SLURM jobs of an earlier study might)
            remove_temporary(run.root)
        return _run_locked(cfg, progress=progress, loader=loader)


def _run_locked(cfg: StudyConfig, *, progress: bool, loader: Loader | None) -> StudySummary:
    cfg, todo = _prepare(cfg)
    run = RunLayout(cfg.run_dir)
    write_json(run.config, cfg.as_dict())
    summary = StudySummary(run_dir=run.root)
    bad_langs = prepare_languages(cfg, needed_languages(cfg, todo), progress=progress)
    summary.failed_languages = bad_langs
    every = units_of(cfg)
    models = list(dict.fromkeys(u.model for u in every))
    # local: model by model (each loaded once), its phases in order; jobs: phase by phase, all models at once
    rounds = (
        [[(m, p)] for m in models for p in PHASES]
        if cfg.executor == "local"
        else [[(m, p) for m in models] for p in PHASES]
    )
    backends: dict = {}
    ex = None
    bar = tqdm(total=len(every), desc="study", unit="unit", disable=not progress)
    for rnd in rounds:
        if cfg.fail_fast and summary.failed:
            break
        units = []
        for unit in (u for m, p in rnd for u in every if u.model == m and u.kind == p):
            # done-ness is judged now, after the earlier phases ran: a fit retried now makes the pool stale
            if is_done(cfg, unit):
                summary.skipped.append(unit.uid)
                bar.update()
                continue
            _note_recomputed(summary, cfg, unit)
            if unit.kind != POOL and unit.code in bad_langs:
                status = UnitStatus(unit.uid, unit.kind, unit.model.as_dict(), unit.code, "failed")
                status.reason = f"{unit.code}: {bad_langs[unit.code]}"
                write_json(run.unit_status(unit.uid), asdict(status))
                _record(summary, status)
                bar.update()
            else:
                units.append(unit)
        if not units:
            continue
        if cfg.executor == "local":
            for unit in units:
                if cfg.fail_fast and summary.failed:
                    break
                bar.set_postfix_str(unit.uid)
                _record(summary, run_unit(cfg, unit, backends, prepared=bad_langs, loader=loader))
                bar.update()
            continue
        ex = ex or submitit_executor(cfg)  # made once, when the first jobs are due
        jobs = [(group, ex.submit(run_units, cfg, group, prepared=bad_langs)) for group in job_groups(cfg, units)]
        log_jobs(run, jobs)
        for group, job in jobs:
            try:
                for status in job.result():
                    _record(summary, status)
            except Exception as e:  # noqa: BLE001 - a job that died (time limit, node failure) fails its units only
                summary.failed += [(u.uid, f"job {job.job_id}: {describe(e)}") for u in group]
            bar.update(len(group))
    bar.close()
    return summary


def _note_recomputed(summary: StudySummary, cfg: StudyConfig, unit: Unit) -> None:
    """Record why ``unit``'s stale outputs are made again (``difference: [unit/output, ...]``)."""
    _, stale = stale_outputs(cfg, unit)
    for name, differences in stale.items():
        for why in differences:
            summary.recomputed.setdefault(why, []).append(f"{unit.uid}/{name}")


def _record(summary: StudySummary, status: UnitStatus) -> None:
    if status.status == "done":
        summary.done.append(status.unit)
    else:
        summary.failed.append((status.unit, status.reason))


__all__ = [
    "UnitStatus",
    "load_config",
    "StudySummary",
    "prepare",
    "run_study",
    "run_unit",
    "run_units",
    "stale_outputs",
]
