"""A study's jobs through ``submitit`` (``--executor slurm`` or ``submitit-local``): the executor, how units are
grouped into jobs, and the log of which job ran which unit."""

from __future__ import annotations

import json

from pitchprobe.core.atomic import write_json
from pitchprobe.core.layout import RunLayout
from pitchprobe.study.config import POOL, StudyConfig, Unit


def submitit_executor(cfg: StudyConfig):
    """The executor of ``cfg``'s jobs: SLURM, or ``submitit-local`` (the same path, locally)."""
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


def job_groups(cfg: StudyConfig, units: list[Unit]) -> list[list[Unit]]:
    """Jobs of one phase: up to ``langs_per_job`` units of one model each (the pool alone)."""
    per = max(1, cfg.langs_per_job)
    out: list[list[Unit]] = []
    for unit in units:
        last = out[-1] if out else None
        if last and last[0].model == unit.model and unit.kind != POOL and len(last) < per:
            last.append(unit)
        else:
            out.append([unit])
    return out


def log_jobs(run: RunLayout, jobs: list) -> None:
    """``logs/jobs.json``: the job id of each unit submitted (added to across phases)."""
    path = run.logs / "jobs.json"
    known = json.loads(path.read_text()) if path.is_file() else {}
    known.update({u.uid: job.job_id for group, job in jobs for u in group})
    write_json(path, known)


__all__ = ["job_groups", "log_jobs", "submitit_executor"]
