"""``pitchprobe study``: many languages x several models, resumable, in one run directory.

A study is a list of units, each a (language, model) probe or a (train
language, model) transfer. A unit is done when its result files exist, so a
rerun skips it and an interrupted unit restarts cleanly (every file is written
atomically). Units run in this process (``executor="local"``) or as one job
each through ``submitit`` (``"slurm"``; ``"submitit-local"`` runs the same
path with submitit's local executor, for testing). Then the results are
aggregated, tested, plotted and reported (:mod:`pitchprobe.report`).

Run directory::

    <run_dir>/config.json                                  the resolved configuration
    <run_dir>/results/<model_tag>/<code>.json              within-language probes (run_probe's layout)
    <run_dir>/transfer/<model_tag>/<train>/<test>.json      cross-lingual transfer
    <run_dir>/units/<kind>--<model_tag>--<code>.json       status of each unit
    <run_dir>/logs/                                         submitit logs
    <run_dir>/tables/, figures/, report.html, report.md     from pitchprobe.report
"""

from __future__ import annotations

import json
import time
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tqdm.auto import tqdm

from .atomic import write_json
from .errors import PitchProbeError, UnknownNameError

EXECUTORS = ("local", "slurm", "submitit-local")


@dataclass
class StudyConfig:
    """Everything a study needs; saved as ``config.json``. Paths are absolute strings."""

    langs: list[str]
    models: list[str]
    run_dir: str
    data_dir: str
    controls: bool = False
    train_langs: list[str] = field(default_factory=list)
    alpha: float | None = None
    languages_table: str | None = None
    source: str | None = None
    repo: str = "google/fleurs"
    revision: str | None = None
    gender: str = "all"
    device: str = "auto"
    batch_size: int = 8
    seed: int = 0
    jobs: int | None = None
    bootstrap: int = 1000
    permutations: int = 10000
    executor: str = "local"
    slurm_partition: str | None = None
    slurm_time_min: int = 240
    slurm_cpus: int = 8
    slurm_gpus: int = 0


@dataclass(frozen=True)
class Unit:
    """One piece of work: ``kind`` is ``probe`` (``code`` = language) or ``transfer`` (``code`` = train language)."""

    kind: str
    model: str
    random_init: bool
    code: str

    @property
    def model_tag(self) -> str:
        from .paths import safe_tag

        return safe_tag(self.model) + ("-random" if self.random_init else "")

    @property
    def uid(self) -> str:
        return f"{self.kind}--{self.model_tag}--{self.code}"


RANDOM_PREFIX = "random:"  # a model name "random:<name>" means only its random-init copy


def model_variants(cfg: StudyConfig) -> list[tuple[str, bool]]:
    """(model name, random_init) pairs: each model, plus its random-init copy with ``controls``."""
    out = []
    for m in cfg.models:
        if m.startswith(RANDOM_PREFIX):
            out.append((m[len(RANDOM_PREFIX) :], True))
        else:
            out.append((m, False))
            if cfg.controls:
                out.append((m, True))
    return list(dict.fromkeys(out))


def units_of(cfg: StudyConfig) -> list[Unit]:
    """Every unit of a study: per model, its probes, then its transfers."""
    variants = model_variants(cfg)
    units = []
    for m, r in variants:  # a model's units together, so each model is loaded once
        units += [Unit("probe", m, r, c) for c in cfg.langs] + [Unit("transfer", m, r, c) for c in cfg.train_langs]
    return units


def unit_outputs(cfg: StudyConfig, unit: Unit) -> list[Path]:
    run = Path(cfg.run_dir)
    if unit.kind == "probe":
        return [run / "results" / unit.model_tag / f"{unit.code}.json"]
    return [run / "transfer" / unit.model_tag / unit.code / f"{c}.json" for c in cfg.langs]


def is_done(cfg: StudyConfig, unit: Unit) -> bool:
    return all(p.is_file() for p in unit_outputs(cfg, unit))


def _ensure_labelled(cfg: StudyConfig, codes: list[str]) -> None:
    from .gather import HubSource, LocalSource, gather_language
    from .languages import load_table
    from .manifest import resolve_gathered
    from .paths import manifest_path
    from .pitch import make_labels

    root = Path(cfg.data_dir)
    for lang in resolve_gathered(codes, load_table(cfg.languages_table), root):
        if not manifest_path(root, lang.code).is_file():
            source = LocalSource(cfg.source) if cfg.source else HubSource(cfg.repo, revision=cfg.revision)
            gather_language(lang, root=root, source=source, gender=cfg.gender)
        make_labels(lang.code, root=root, jobs=cfg.jobs, progress=False)


def run_unit(cfg: StudyConfig, unit: Unit, backends: dict | None = None) -> dict:
    """Run one unit (gathering and labelling what it needs); return its status record.

    ``backends`` is an optional ``{(model, random_init): Backend}`` the caller
    keeps to load each model once; submitted jobs load their own.
    """
    from .models import load_model
    from .probe import run_probe
    from .transfer import run_transfer

    t0 = time.perf_counter()
    status = {"unit": unit.uid, **asdict(unit)}
    try:
        codes = [unit.code] if unit.kind == "probe" else sorted({unit.code, *cfg.langs})
        _ensure_labelled(cfg, codes)
        key = (unit.model, unit.random_init)
        backends = {} if backends is None else backends
        if key not in backends:
            backends.clear()  # one model in memory at a time
            backends[key] = load_model(
                unit.model, random_init=unit.random_init, device=cfg.device, seed=cfg.seed, batch_size=cfg.batch_size
            )
        backend = backends[key]
        root = Path(cfg.data_dir)
        if unit.kind == "probe":
            out = unit_outputs(cfg, unit)[0]
            run_probe(unit.code, root=root, backend=backend, alpha=cfg.alpha, output=out, progress=False)
        else:
            run_transfer(
                unit.code,
                cfg.langs,
                root=root,
                run_dir=Path(cfg.run_dir),
                backend=backend,
                alpha=cfg.alpha,
                progress=False,
            )
        status.update(status="done", reason=None)
    except PitchProbeError as e:
        status.update(status="failed", reason=str(e))
    except (RuntimeError, OSError, ValueError) as e:  # a model or I/O failure fails this unit, not the study
        status.update(status="failed", reason=f"{type(e).__name__}: {e}", traceback=traceback.format_exc())
    status["seconds"] = time.perf_counter() - t0
    write_json(Path(cfg.run_dir) / "units" / f"{unit.uid}.json", status)
    return status


@dataclass
class StudySummary:
    done: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (unit, reason)

    def text(self) -> str:
        lines = [
            f"units: {len(self.done)} done now, {len(self.skipped)} skipped (done before), {len(self.failed)} failed"
        ]
        lines += [f"  failed {u}: {r}" for u, r in self.failed]
        return "\n".join(lines)


def _submitit_executor(cfg: StudyConfig):
    import submitit

    folder = Path(cfg.run_dir) / "logs" / "%j"
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


def run_study(cfg: StudyConfig, *, progress: bool = True) -> StudySummary:
    """Run every unit not done yet, then write tables, figures and the report."""
    if cfg.executor not in EXECUTORS:
        raise UnknownNameError("executor", cfg.executor, EXECUTORS)
    run = Path(cfg.run_dir)
    write_json(run / "config.json", asdict(cfg))
    summary = StudySummary()
    todo = []
    for unit in units_of(cfg):
        if is_done(cfg, unit):
            summary.skipped.append(unit.uid)
        else:
            todo.append(unit)
    if cfg.executor == "local":
        backends: dict = {}
        bar = tqdm(todo, desc="study", unit="unit", disable=not progress)
        for unit in bar:
            bar.set_postfix_str(unit.uid)
            _record(summary, run_unit(cfg, unit, backends))
    else:
        ex = _submitit_executor(cfg)
        jobs = [(unit, ex.submit(run_unit, cfg, unit)) for unit in todo]
        write_json(run / "logs" / "jobs.json", {u.uid: j.job_id for u, j in jobs})
        for unit, job in tqdm(jobs, desc="study (jobs)", unit="unit", disable=not progress):
            try:
                _record(summary, job.result())
            except Exception as e:  # noqa: BLE001 - a job that died (time limit, node failure) fails its unit only
                summary.failed.append((unit.uid, f"job {job.job_id}: {type(e).__name__}: {e}"))
    from .report import make_report

    make_report(run, bootstrap=cfg.bootstrap, permutations=cfg.permutations, seed=cfg.seed, summary=summary)
    return summary


def _record(summary: StudySummary, status: dict) -> None:
    if status["status"] == "done":
        summary.done.append(status["unit"])
    else:
        summary.failed.append((status["unit"], status["reason"]))


def load_config(run_dir: Path) -> StudyConfig:
    return StudyConfig(**json.loads((Path(run_dir) / "config.json").read_text()))
