"""``pitchprobe study``: many languages x several models, resumable, in one run directory.

A study is a list of units (:mod:`pitchprobe.study.config`), each a
(language, model) probe or a (train language, model) transfer. A unit is done
when its results exist *and* carry the fingerprint this configuration gives
them; a rerun skips it. A result made under another configuration is never
reused: the study stops and names the differing fields, unless ``overwrite``
asks for it to be recomputed. Units run in this process (``executor="local"``)
or as one job each through ``submitit`` (``"slurm"``; ``"submitit-local"`` runs
the same path with submitit's local executor, for testing). Then the results
are aggregated, tested, plotted and reported (:mod:`pitchprobe.analysis.report`).
The run directory's layout is :class:`pitchprobe.core.layout.RunLayout`'s.
"""

from __future__ import annotations

import json
import time
import traceback
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from tqdm.auto import tqdm

from pitchprobe.core.atomic import ensure_writable, remove_temporary, write_json
from pitchprobe.core.errors import PitchProbeError, UnknownNameError, contained, describe
from pitchprobe.core.layout import ResultFiles, RunLayout, default_run_dir, label_params_path
from pitchprobe.core.lock import file_lock
from pitchprobe.probe.results import SchemaError, fingerprint_differences, read_result
from pitchprobe.study.config import EXECUTORS, StudyConfig, Unit, load_config, resolved, unit_fingerprint, units_of


@dataclass
class UnitStatus:
    """What became of one unit: written to ``units/<uid>.json``."""

    unit: str
    kind: str
    model: dict
    code: str
    status: str = "running"  # done or failed
    reason: str | None = None
    traceback: str | None = None
    seconds: float = 0.0


def unit_outputs(cfg: StudyConfig, unit: Unit) -> dict[str, ResultFiles]:
    """``{test language: result files}`` of a unit."""
    run = RunLayout(cfg.run_dir)
    if unit.kind == "probe":
        return {unit.code: run.within(unit.model_tag, unit.code)}
    return {c: run.transfer(unit.model_tag, unit.code, c) for c in cfg.langs}


def stale_outputs(cfg: StudyConfig, unit: Unit) -> tuple[list[str], dict[str, list[str]]]:
    """(test languages with no result, ``{test language: differences}`` of results made otherwise)."""
    missing, stale = [], {}
    for code, files in unit_outputs(cfg, unit).items():
        if not files.json.is_file():
            missing.append(code)
            continue
        try:
            stored = read_result(files.json).fingerprint
        except SchemaError as e:
            stale[code] = [str(e)]
            continue
        diff = fingerprint_differences(stored, unit_fingerprint(cfg, unit, code))
        if diff:
            stale[code] = diff
    return missing, stale


def _ensure_labelled(cfg: StudyConfig, codes: list[str]) -> None:
    """Gather (if needed) and label ``codes`` in the data root; raise at the first language that fails."""
    from pitchprobe.core.layout import manifest_path
    from pitchprobe.data.fleurs import HubSource, LocalSource, gather_language
    from pitchprobe.data.languages import load_table
    from pitchprobe.data.manifest import resolve_gathered
    from pitchprobe.labels.make import make_labels

    root = Path(cfg.data_dir)
    for lang in resolve_gathered(codes, load_table(cfg.languages_table), root):
        if not manifest_path(root, lang.code).is_file():
            source = LocalSource(cfg.source) if cfg.source else HubSource(cfg.repo, revision=cfg.revision)
            gathered = gather_language(  # every gender: the probe filters by cfg.gender
                lang, root=root, source=source, fail_fast=cfg.fail_fast, delete_archives=cfg.delete_archives
            )
            if not gathered.ok:
                raise PitchProbeError(f"gathering failed: {gathered.failure}")
        s = make_labels(
            lang.code,
            root=root,
            params=cfg.params,
            jobs=cfg.jobs,
            fail_fast=cfg.fail_fast,
            retry_failed=cfg.retry_failed,
            progress=False,
        )
        if s.total and not s.ok:
            raise PitchProbeError(f"no utterance could be labelled ({len(s.failed)} failed)")


def needed_languages(cfg: StudyConfig, units: list[Unit]) -> list[str]:
    """The languages ``units`` read: each probe's, each transfer's train language and the test languages."""
    codes: set[str] = set()
    for unit in units:
        codes |= {unit.code} if unit.kind == "probe" else {unit.code, *cfg.langs}
    return sorted(codes)


def prepare_languages(cfg: StudyConfig, codes: list[str], *, progress: bool = True) -> dict[str, str]:
    """Gather and label each of ``codes`` once, before any unit runs; ``{code: reason}`` of those that failed.

    A language's failure of any kind is recorded for it (the units that need
    it fail with its reason); with ``cfg.fail_fast`` the first one raises.
    """
    failed = {}
    for code in tqdm(codes, desc="labels", unit="lang", disable=not progress or len(codes) < 2):
        reason = contained(code, lambda code=code: _ensure_labelled(cfg, [code]), fail_fast=cfg.fail_fast)
        if reason is not None:
            failed[code] = reason
    return failed


def run_unit(
    cfg: StudyConfig, unit: Unit, backends: dict | None = None, *, prepared: dict[str, str] | None = None
) -> UnitStatus:
    """Run one unit (gathering and labelling what it needs); return its status record.

    ``backends`` is an optional ``{ModelIdentity: Backend}`` the caller keeps
    to load each model once; submitted jobs load their own. ``prepared``:
    the caller gathered and labelled every language already
    (:func:`prepare_languages`), and these ``{code: reason}`` failed; None
    prepares the unit's languages here.
    """
    from pitchprobe.models import load_model
    from pitchprobe.probe.run import run_probe
    from pitchprobe.probe.transfer import run_transfer

    t0 = time.perf_counter()
    status = UnitStatus(unit.uid, unit.kind, unit.model.as_dict(), unit.code)
    try:
        missing, stale = stale_outputs(cfg, unit)
        todo = sorted(set(missing) | set(stale))
        tests = [c for c in todo if c != unit.code] if unit.kind == "transfer" else []
        if prepared is None:
            _ensure_labelled(cfg, [unit.code])
            problems = prepare_languages(cfg, tests, progress=False)
        elif unit.code in prepared:
            raise PitchProbeError(prepared[unit.code])
        else:
            problems = {c: prepared[c] for c in tests if c in prepared}
        todo = [c for c in todo if c not in problems]  # a test language that fails is that language's alone
        backends = {} if backends is None else backends
        if unit.model not in backends:
            backends.clear()  # one model in memory at a time
            backends[unit.model] = load_model(
                unit.model,
                device=cfg.device,
                batch_size=cfg.batch_size,
                max_batch_seconds=cfg.max_batch_seconds,
                dtype=cfg.dtype,
                trust_checkpoint=cfg.trust_checkpoint,
            )
        kw = {
            "root": Path(cfg.data_dir),
            "backend": backends[unit.model],
            "alpha": cfg.alpha,
            "gender": cfg.gender,
            "postprocess": cfg.postprocess,
            "fail_fast": cfg.fail_fast,
            "progress": False,
        }
        outputs = unit_outputs(cfg, unit)
        if unit.kind == "probe":
            run_probe(unit.code, output=outputs[unit.code].json, **kw)
        elif todo:
            run_transfer(
                unit.code,
                todo,
                files_of=lambda c: outputs[c],
                on_error=lambda c, e: problems.update({c: describe(e)}),
                **kw,
            )
        if problems:
            raise PitchProbeError("no result for " + "; ".join(f"{c}: {r}" for c, r in sorted(problems.items())))
        status.status = "done"
    except (PitchProbeError, OSError) as e:  # expected faults: bad input, a full disk
        status.status, status.reason = "failed", describe(e)
    except Exception as e:  # noqa: BLE001 - any other failure (a model's) fails this unit, not the study
        status.status, status.reason = "failed", describe(e)
        status.traceback = traceback.format_exc()
    status.seconds = time.perf_counter() - t0
    write_json(RunLayout(cfg.run_dir).unit_status(unit.uid), asdict(status))
    return status


@dataclass
class StudySummary:
    done: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (unit, reason)
    failed_languages: dict[str, str] = field(default_factory=dict)  # code -> why it could not be gathered/labelled
    report: Path | None = None

    def text(self) -> str:
        lines = [
            f"units: {len(self.done)} done now, {len(self.skipped)} skipped (done before), {len(self.failed)} failed"
        ]
        lines += [f"  failed {u}: {r}" for u, r in self.failed]
        if self.failed_languages:
            lines.append(f"languages: {len(self.failed_languages)} could not be gathered or labelled")
            lines += [f"  {code}: {reason}" for code, reason in self.failed_languages.items()]
        return "\n".join(lines)


def _submitit_executor(cfg: StudyConfig):
    import submitit

    folder = RunLayout(cfg.run_dir).logs / "%j"
    if cfg.executor == "submitit-local":
        ex = submitit.LocalExecutor(folder=folder)
        ex.update_parameters(timeout_min=cfg.slurm_time_min)
        return ex
    ex = submitit.AutoExecutor(folder=folder, cluster="slurm")
    params = {"timeout_min": cfg.slurm_time_min, "cpus_per_task": cfg.slurm_cpus, "name": "pitchprobe"}
    if cfg.slurm_gpus:
        params["gpus_per_node"] = cfg.slurm_gpus
    if cfg.slurm_partition:
        params["slurm_partition"] = cfg.slurm_partition
    ex.update_parameters(**params)
    return ex


def _check_labels(cfg: StudyConfig) -> dict[str, dict]:
    """``{code: stored parameters}`` of languages whose labels in the data root were made otherwise."""
    out = []
    for code in sorted({*cfg.langs, *cfg.train_langs}):
        path = label_params_path(Path(cfg.data_dir), code)
        if path.is_file():
            stored = json.loads(path.read_text())
            if stored != asdict(cfg.params):
                out.append((code, stored))
    return dict(out)


def _prepare(cfg: StudyConfig) -> tuple[StudyConfig, list[Unit], list[Unit]]:
    """:func:`prepare`, plus the units to run and those done already (each result is read once)."""
    if cfg.executor not in EXECUTORS:
        raise UnknownNameError("executor", cfg.executor, EXECUTORS)
    cfg = resolved(cfg)
    if cfg.run_dir is None:
        cfg = replace(cfg, run_dir=str(default_run_dir(Path(cfg.data_dir))))
    problems, todo, done = [], [], []
    for unit in units_of(cfg):
        missing, stale = stale_outputs(cfg, unit)
        problems += [f"{unit.uid} on {code}: " + "; ".join(diff) for code, diff in stale.items()]
        (todo if missing or stale else done).append(unit)
    labels = _check_labels(cfg)
    if (problems or labels) and not cfg.overwrite:
        lines = ["this run directory holds results made under another configuration:", *problems[:20]]
        if len(problems) > 20:
            lines.append(f"... and {len(problems) - 20} more")
        if labels:
            lines.append(f"the data root's labels differ from the study's {asdict(cfg.params)}:")
            lines += [f"{code}: labels made with {stored}" for code, stored in labels.items()]
        lines.append(f"pass --overwrite to recompute them, or use a new --run-dir (now {cfg.run_dir})")
        raise PitchProbeError("\n  ".join(lines))
    if labels:  # --overwrite: relabel those languages once, here, before any unit runs
        from pitchprobe.labels.make import make_labels

        for code in labels:
            make_labels(
                code,
                root=Path(cfg.data_dir),
                params=cfg.params,
                jobs=cfg.jobs,
                overwrite=True,
                fail_fast=cfg.fail_fast,
                progress=False,
            )
    return cfg, todo, done


def prepare(cfg: StudyConfig) -> StudyConfig:
    """Resolve ``cfg`` and check it against what is on disk; raise if stale results would be reused.

    Raises
    ------
    PitchProbeError
        Naming each unit whose results were made under another configuration,
        and the fields that differ, unless ``cfg.overwrite``.
    """
    return _prepare(cfg)[0]


def run_study(cfg: StudyConfig, *, progress: bool = True) -> StudySummary:
    """Run every unit not done yet, then write tables, figures and the report.

    One study at a time runs in a run directory (its lock; a second one
    waits, then skips what the first finished). Every language the units need
    is gathered and labelled first, once, locally and under SLURM alike.
    """
    run_dir = Path(cfg.run_dir) if cfg.run_dir else default_run_dir(Path(cfg.data_dir))
    run = RunLayout(ensure_writable(run_dir))
    with file_lock(run.lock, what=f"the study in {run.root}"):
        if cfg.executor == "local":  # no one else writes here now (SLURM jobs of an earlier study might)
            remove_temporary(run.root)
        return _run_locked(cfg, progress=progress)


def _run_locked(cfg: StudyConfig, *, progress: bool) -> StudySummary:
    cfg, todo, done = _prepare(cfg)
    run = RunLayout(cfg.run_dir)
    write_json(run.config, cfg.as_dict())
    summary = StudySummary(skipped=[u.uid for u in done])
    bad_langs = prepare_languages(cfg, needed_languages(cfg, todo), progress=progress)
    runnable = []
    for unit in todo:
        if unit.code in bad_langs:  # a probe's language, or a transfer's train language (test languages: run_unit)
            reason = f"{unit.code}: {bad_langs[unit.code]}"
            status = UnitStatus(unit.uid, unit.kind, unit.model.as_dict(), unit.code, "failed", reason)
            write_json(run.unit_status(unit.uid), asdict(status))
            _record(summary, status)
        else:
            runnable.append(unit)
    summary.failed_languages = bad_langs
    if cfg.executor == "local":
        backends: dict = {}
        bar = tqdm(runnable, desc="study", unit="unit", disable=not progress)
        for unit in bar:
            if cfg.fail_fast and summary.failed:
                break
            bar.set_postfix_str(unit.uid)
            _record(summary, run_unit(cfg, unit, backends, prepared=bad_langs))
    else:
        ex = _submitit_executor(cfg)
        jobs = [(unit, ex.submit(run_unit, cfg, unit, prepared=bad_langs)) for unit in runnable]
        write_json(run.logs / "jobs.json", {u.uid: j.job_id for u, j in jobs})
        for unit, job in tqdm(jobs, desc="study (jobs)", unit="unit", disable=not progress):
            try:
                _record(summary, job.result())
            except Exception as e:  # noqa: BLE001 - a job that died (time limit, node failure) fails its unit only
                summary.failed.append((unit.uid, f"job {job.job_id}: {describe(e)}"))
    from pitchprobe.analysis.report import make_report

    summary.report = make_report(
        run.root, bootstrap=cfg.bootstrap, permutations=cfg.permutations, seed=cfg.seed, summary=summary
    )
    return summary


def _record(summary: StudySummary, status: UnitStatus) -> None:
    if status.status == "done":
        summary.done.append(status.unit)
    else:
        summary.failed.append((status.unit, status.reason))


__all__ = ["UnitStatus", "load_config", "StudySummary", "prepare", "run_study", "run_unit", "stale_outputs"]
