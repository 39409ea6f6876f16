"""A study's first step: every language its units need, gathered and labelled once, before any model runs."""

from __future__ import annotations

from pathlib import Path

from tqdm.auto import tqdm

from pitchprobe.core.errors import PitchProbeError, contained
from pitchprobe.study.config import POOL, StudyConfig, Unit


def ensure_labelled(cfg: StudyConfig, codes: list[str]) -> None:
    """Gather (if needed) and label ``codes`` in the data root, by every tracker of the study (and their
    consensus, with ``--labels consensus``); raise at the first language that fails."""
    from pitchprobe.core.layout import manifest_path
    from pitchprobe.data.fleurs import HubSource, LocalSource, gather_language
    from pitchprobe.data.languages import load_table
    from pitchprobe.data.manifest import resolve_gathered
    from pitchprobe.labels.consensus import CONSENSUS, make_consensus
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
        for tracker in cfg.trackers:  # every tracker's labels: the probe's, and the agreement table's
            s = make_labels(
                lang.code,
                root=root,
                params=cfg.tracker_params(tracker),
                jobs=cfg.jobs,
                fail_fast=cfg.fail_fast,
                retry_failed=cfg.retry_failed,
                progress=False,
            )
            if s.total and not s.ok:
                raise PitchProbeError(f"no utterance could be labelled by {tracker} ({len(s.failed)} failed)")
        if cfg.params.tracker == CONSENSUS:
            make_consensus(lang.code, root=root, params=cfg.params)


def needed_languages(cfg: StudyConfig, units: list[Unit]) -> list[str]:
    """The languages ``units`` read: each fit's and each score's (the pool reads only sums)."""
    return sorted({u.code for u in units if u.kind != POOL})


def prepare_languages(cfg: StudyConfig, codes: list[str], *, progress: bool = True) -> dict[str, str]:
    """Gather and label each of ``codes`` once, before any unit runs; ``{code: reason}`` of those that failed.

    A language's failure of any kind is recorded for it (the units that need
    it fail with its reason); with ``cfg.fail_fast`` the first one raises.
    """
    failed = {}
    for code in tqdm(codes, desc="labels", unit="lang", disable=not progress or len(codes) < 2):
        reason = contained(code, lambda code=code: ensure_labelled(cfg, [code]), fail_fast=cfg.fail_fast)
        if reason is not None:
            failed[code] = reason
    return failed


__all__ = ["ensure_labelled", "needed_languages", "prepare_languages"]
