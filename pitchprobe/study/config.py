"""A study's configuration and its units (the fingerprint their outputs must carry: :mod:`pitchprobe.study.current`).

:class:`StudyConfig` is the single declaration of a study's options: each
field's metadata names its command-line flag and help, so ``pitchprobe study``
is built from it (:func:`add_arguments`) and the report's "Reproduce" command
is written back from it (:func:`study_command`), with nothing retyped.
"""

from __future__ import annotations

import argparse
import json
import shlex
from dataclasses import MISSING, asdict, dataclass, field, fields, replace
from pathlib import Path

from pitchprobe.core.errors import PitchProbeError
from pitchprobe.core.layout import RunLayout
from pitchprobe.data.fleurs import GENDERS
from pitchprobe.data.sources import FLEURS_REPO
from pitchprobe.labels.consensus import CONSENSUS, consensus_params
from pitchprobe.labels.pitch import F0_MAX_HZ, F0_MIN_HZ, FRAME_LENGTH_MS, FRAME_SPACE_MS, PitchParams
from pitchprobe.labels.trackers import DEFAULT_TRACKER, TRACKERS, require
from pitchprobe.models import DEFAULT_BATCH_SIZE, DEFAULT_DTYPE, DEFAULT_MAX_BATCH_SECONDS, DEFAULT_MODEL, DTYPES
from pitchprobe.models.identity import ModelIdentity
from pitchprobe.probe.pool import SUMS_DTYPES

EXECUTORS = ("local", "slurm", "submitit-local")
FIT, POOL, SCORE = "fit", "pool", "score"
PHASES = (FIT, POOL, SCORE)  # every fit before the pool, the pool before every score
POOLED, OTHERS = "pooled", "others"  # train languages of the pooled and the leave-one-language-out probes
RANDOM_PREFIX = "random:"  # a model name "random:<name>" means only its random-init copy
COMMON = "common"  # flags every subcommand has (added by the CLI itself)
LABEL_MODES = ("tracker", CONSENSUS)
# SUPERB-prosody's pitch_libritts downstream (JSALT-2022-SSL/superb-prosody, s3prl/downstream/pitch_libritts/
# dataset.py): pYAAPT with f0_min 71, f0_max 800, frame_space = the upstream's hop and amfm_decompy's default
# 35 ms frame_length; natural-log F0 regressed on voiced frames, scored by its MSE
PRESETS = {"superb": {"frame_length_ms": 35.0, "f0_min_hz": 71.0, "f0_max_hz": 800.0}}


def _opt(default, flag: str, help: str, **kw):
    return field(default=default, metadata={"flag": flag, "help": help, **kw})


def _list_opt(flag: str, help: str, **kw):
    return field(default_factory=list, metadata={"flag": flag, "help": help, "list": True, **kw})


@dataclass
class StudyConfig:
    """Everything a study needs; saved as ``config.json``. Paths are absolute strings."""

    langs: list[str] = _list_opt("--langs", "comma-separated codes, lang_ids, or all", required=True)
    models: list[str] = field(
        default_factory=lambda: [DEFAULT_MODEL],
        metadata={
            "flag": "--models",
            "list": True,
            "help": f"comma-separated model names (default {DEFAULT_MODEL}); random:NAME = only its random-init copy",
        },
    )
    run_dir: str | None = _opt(None, "--run-dir", "run directory (default <data_dir>/studies/default)")
    data_dir: str | None = _opt(None, "--data-dir", "data root", cli=COMMON)
    controls: bool = _opt(False, "--controls", "add the random-init copy of each model")
    train_langs: list[str] = _list_opt(
        "--train-lang", "transfer: comma-separated train languages, or all (every study language)"
    )
    pooled: bool = _opt(
        False, "--pooled", "also a probe fitted on every language pooled, and one leaving out each language in turn"
    )
    all_predictions: bool = _opt(
        False, "--all-predictions", "keep frame predictions of every scored probe (default: own and pooled)"
    )
    keep_sums: bool = _opt(False, "--keep-sums", "keep each language's sums once the pooled probes are fitted")
    sums_dtype: str = _opt(
        SUMS_DTYPES[0], "--sums-dtype", "storage of the kept sums' XᵀX (float32 halves the disk)", choices=SUMS_DTYPES
    )
    alpha: float | None = _opt(None, "--alpha", "fixed ridge alpha; 0 = least squares (dev is still run)", type=float)
    postprocess: bool = _opt(False, "--postprocess", "headline MSE after the prototype's smoothing")
    languages_table: str | None = _opt(None, "--languages", "language table TSV", cli=COMMON)
    source: str | None = _opt(None, "--source", "local folder in the FLEURS repository layout (default: the HF Hub)")
    repo: str = _opt(FLEURS_REPO, "--repo", "HF dataset repository")
    revision: str | None = _opt(None, "--revision", "HF revision (branch, tag or commit)")
    gender: str = _opt("all", "--gender", "use only speakers of this gender", choices=tuple(GENDERS))
    s3prl_ckpt: str | None = _opt(None, "--s3prl-ckpt", "checkpoint for S3PRL *_local/*_url/*_custom upstreams")
    trust_checkpoint: bool = _opt(
        False, "--trust-checkpoint", "allow a --s3prl-ckpt that needs Python pickle (which can run code)"
    )
    trackers: list[str] = field(
        default_factory=lambda: [DEFAULT_TRACKER],
        metadata={
            "flag": "--tracker",
            "list": True,
            "help": f"comma-separated pitch trackers ({', '.join(TRACKERS)}): the first labels the probe unless "
            f"--labels consensus; with two or more, a tracker agreement table (default {DEFAULT_TRACKER})",
        },
    )
    labels: str = _opt(
        "tracker",
        "--labels",
        "tracker: the first --tracker's labels; consensus: frames where at least two trackers agree within "
        "50 cents (the rest masked)",
        choices=LABEL_MODES,
    )
    preset: str | None = _opt(
        None,
        "--preset",
        "superb: SUPERB-prosody's pitch_libritts labels (pYAAPT, 35 ms frames, F0 71-800 Hz) and its "
        "log-F0 MSE on voiced frames as the headline; overrides --frame-length, --f0-min, --f0-max",
        choices=tuple(PRESETS),
    )
    frame_length_ms: float = _opt(FRAME_LENGTH_MS, "--frame-length", "pYAAPT frame length, ms", type=float)
    frame_space_ms: float = _opt(FRAME_SPACE_MS, "--frame-space", "label hop, ms", type=float)
    f0_min_hz: float = _opt(F0_MIN_HZ, "--f0-min", "Hz", type=float)
    f0_max_hz: float = _opt(F0_MAX_HZ, "--f0-max", "Hz", type=float)
    device: str = _opt("auto", "--device", "auto, cpu, cuda or cuda:N")
    batch_size: int | None = _opt(
        None, "--batch-size", f"utterances per forward (default {DEFAULT_BATCH_SIZE} on a GPU, 1 on the CPU)", type=int
    )
    dtype: str = _opt(
        DEFAULT_DTYPE, "--dtype", "the forward pass's precision (the probe's sums stay float64)", choices=DTYPES
    )
    force_dtype: bool = _opt(False, "--force-dtype", "run --dtype bfloat16 on a CPU without native bf16 all the same")
    max_batch_seconds: float = _opt(
        DEFAULT_MAX_BATCH_SECONDS, "--max-batch-seconds", "most audio per forward, padding included, s", type=float
    )
    seed: int = _opt(0, "--seed", "seeds random init, bootstrap and permutations", type=int)
    jobs: int | None = _opt(None, "--jobs", "processes for pitch labels (default: all cores)", type=int)
    bootstrap: int = _opt(1000, "--bootstrap", "bootstrap resamples", type=int)
    permutations: int = _opt(10000, "--permutations", "permutations per test", type=int)
    executor: str = _opt("local", "--executor", "where units run", choices=EXECUTORS)
    slurm_partition: str | None = _opt(None, "--partition", "slurm partition")
    slurm_time_min: int = _opt(240, "--time", "slurm time limit per job, minutes", type=int)
    slurm_cpus: int = _opt(8, "--cpus", "slurm CPUs per job", type=int)
    slurm_gpus: int = _opt(0, "--gpus", "slurm GPUs per job", type=int)
    langs_per_job: int = _opt(1, "--langs-per-job", "languages per job (one model load each)", type=int)
    dry_run: bool = _opt(False, "--dry-run", "print the units, jobs and estimated cost; run nothing")
    overwrite: bool = _opt(
        False,
        "--overwrite",
        "recompute units made under another configuration (and relabel, in the data root, languages whose labels "
        "were made with other settings)",
    )
    retry_failed: bool = _opt(False, "--retry-failed", "label again files that failed for a reason of their own")
    delete_archives: bool = _opt(
        False, "--delete-archives", "delete each downloaded FLEURS archive once its extraction is verified"
    )
    fail_fast: bool = _opt(False, "--fail-fast", "stop at the first failure", cli=COMMON)

    def tracker_params(self, tracker: str) -> PitchParams:
        """The settings of ``tracker``'s labels (``--preset`` applied)."""
        grid = {
            "frame_length_ms": self.frame_length_ms,
            "frame_space_ms": self.frame_space_ms,
            "f0_min_hz": self.f0_min_hz,
            "f0_max_hz": self.f0_max_hz,
            **(PRESETS[self.preset] if self.preset else {}),
        }
        return PitchParams(**grid, tracker=tracker)

    @property
    def params(self) -> PitchParams:
        """The settings of the labels the probes are fitted on: the first tracker's, or their consensus."""
        first = self.tracker_params(self.trackers[0] if self.trackers else DEFAULT_TRACKER)
        return consensus_params(first, self.trackers) if self.labels == CONSENSUS else first

    @property
    def headline(self) -> tuple[str, str]:
        """(target, metric) of the headline numbers: voiced-F0 r, or SUPERB-prosody's log-F0 MSE."""
        return ("logf0_voiced", "mse_log") if self.preset == "superb" else ("f0_voiced", "r")

    def as_dict(self) -> dict:
        return asdict(self)


def _defaults() -> dict:
    out = {}
    for f in fields(StudyConfig):
        out[f.name] = f.default_factory() if f.default is MISSING else f.default
    return out


def split_list(text: str | list) -> list[str]:
    """The one list syntax: comma-separated (repeated flags and positional words are joined first)."""
    parts = text if isinstance(text, list) else [text]
    return [x.strip() for p in parts for x in str(p).split(",") if x.strip()]


FLAG_GROUPS = {  # the stages of a study, in order, and the fields whose flags belong to each (for --help)
    "data": ("langs", "source", "repo", "revision", "gender", "delete_archives"),
    "labels": ("trackers", "labels", "preset", "frame_length_ms", "frame_space_ms", "f0_min_hz", "f0_max_hz"),
    "models": (
        "models",
        "controls",
        "s3prl_ckpt",
        "trust_checkpoint",
        "device",
        "batch_size",
        "dtype",
        "force_dtype",
        "max_batch_seconds",
        "seed",
    ),  # fmt: skip
    "probe": ("alpha", "postprocess", "train_langs", "pooled", "all_predictions", "keep_sums", "sums_dtype"),
    "study": ("run_dir", "dry_run", "overwrite", "retry_failed", "jobs"),
    "statistics": ("bootstrap", "permutations"),
    "cluster": ("executor", "slurm_partition", "slurm_time_min", "slurm_cpus", "slurm_gpus", "langs_per_job"),
}
STUDY_EXAMPLES = """examples:
  pitchprobe study --langs en_us,cmn_hans_cn --models fbank --dry-run     what it would do, and its cost
  pitchprobe study --langs en_us,cmn_hans_cn --models hubert --controls    HuBERT and its random-init copy
  pitchprobe study --langs all --models facebook/hubert-base-ls960 --train-lang en_us --pooled
  pitchprobe study --langs en_us,yo_ng --tracker praat,swift,pyaapt-fixed --labels consensus
  pitchprobe study --langs all --models wavlm --executor slurm --partition gpu --gpus 1 --langs-per-job 4"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add every study flag (except the common ones) to ``parser``, with the library's defaults, grouped by stage
    (:data:`FLAG_GROUPS`)."""
    defaults = _defaults()
    group_of = {name: group for group, names in FLAG_GROUPS.items() for name in names}
    groups = {g: parser.add_argument_group(g) for g in FLAG_GROUPS}
    for f in fields(StudyConfig):
        md = f.metadata
        if md.get("cli") == COMMON:
            continue
        target = groups[group_of.get(f.name, "study")]  # every field has a stage: tests/study/test_flags.py
        default = defaults[f.name]
        if isinstance(default, bool):
            target.add_argument(md["flag"], dest=f.name, action="store_true", help=md["help"])
            continue
        shown = ",".join(default) if isinstance(default, list) else default
        suffix = f" (default {shown})" if default not in (None, []) and "(default" not in md["help"] else ""
        kw = {"dest": f.name, "help": md["help"] + suffix, "metavar": f.name.upper()}
        if md.get("list"):
            kw.update(type=str, default=",".join(default) if default else "")
        else:
            kw.update(type=md.get("type", str), default=default)
        if "choices" in md:
            kw["choices"] = list(md["choices"])
            kw.pop("metavar")
        if md.get("required"):
            kw["required"] = True
        target.add_argument(md["flag"], **kw)


def study_command(cfg: StudyConfig) -> str:
    """The ``pitchprobe study`` command reproducing ``cfg``: every option not at its default, but ``overwrite``."""
    defaults = _defaults()
    cmd = ["pitchprobe", "study"]
    for f in fields(StudyConfig):
        value, flag = getattr(cfg, f.name), f.metadata["flag"]
        if f.name == "overwrite" or (value == defaults[f.name] and not f.metadata.get("required")):
            continue
        if isinstance(value, bool):
            cmd.append(flag)
        elif isinstance(value, list):
            cmd += [flag, ",".join(value)]
        else:
            cmd += [flag, str(value)]
    return " ".join(shlex.quote(c) for c in cmd)


@dataclass(frozen=True)
class Unit:
    """One piece of work, of one phase (:data:`PHASES`), for one model.

    ``fit``: one pass over language ``code``'s train and dev splits; its probes (and, with ``pooled``,
    its sums). ``pool``: the pooled and leave-one-out probes of the model (``code`` = ``pooled``), from
    the sums. ``score``: one pass over ``code``'s test split, scoring every probe that applies to it.
    """

    kind: str
    model: ModelIdentity
    code: str

    @property
    def model_tag(self) -> str:
        return self.model.tag

    @property
    def uid(self) -> str:
        return f"{self.kind}--{self.model_tag}--{self.code}"


def model_variants(cfg: StudyConfig) -> list[ModelIdentity]:
    """Each model's identity, plus its random-init copy with ``controls``; local paths made absolute."""
    out = []
    for m in cfg.models:
        random_only = m.startswith(RANDOM_PREFIX)
        name = m[len(RANDOM_PREFIX) :] if random_only else m
        s3prl = "/" not in name and not name.startswith("~")  # a checkpoint belongs to S3PRL upstreams only
        kw = {"seed": cfg.seed, "s3prl_ckpt": cfg.s3prl_ckpt if s3prl else None}
        if not random_only:
            out.append(ModelIdentity.resolve(name, random_init=False, **kw))
        if random_only or cfg.controls:
            out.append(ModelIdentity.resolve(name, random_init=True, **kw))
    return list(dict.fromkeys(out))


def fit_languages(cfg: StudyConfig) -> list[str]:
    """The languages whose train and dev splits are run: the study's, then train languages not among them."""
    return list(dict.fromkeys([*cfg.langs, *cfg.train_langs]))


def units_of(cfg: StudyConfig) -> list[Unit]:
    """Every unit of a study, model by model: its fits, its pool (``pooled``), then its scores."""
    for code in (*cfg.langs, *cfg.train_langs):
        if code in (POOLED, OTHERS):
            raise PitchProbeError(f"a language cannot be called {code!r} in a study (it names the pooled probes)")
    if cfg.pooled and len(set(cfg.langs)) < 2:
        raise PitchProbeError("--pooled needs at least two languages in --langs")
    if not cfg.trackers:
        raise PitchProbeError("--tracker needs at least one tracker")
    for name in cfg.trackers:
        require(name)  # an unknown name, or a tracker whose package is missing: one message, before anything runs
    if cfg.preset == "superb" and (cfg.trackers[0] != DEFAULT_TRACKER or cfg.labels != "tracker"):
        raise PitchProbeError(
            f"--preset superb probes {DEFAULT_TRACKER} labels, as SUPERB-prosody does: put {DEFAULT_TRACKER} first "
            "in --tracker, without --labels consensus"
        )
    cfg.params  # noqa: B018 - a consensus of fewer than two trackers is refused here, before anything runs
    units = []
    for ident in model_variants(cfg):
        units += [Unit(FIT, ident, c) for c in fit_languages(cfg)]
        units += [Unit(POOL, ident, POOLED)] if cfg.pooled else []
        units += [Unit(SCORE, ident, c) for c in cfg.langs]
    return units


def resolved(cfg: StudyConfig) -> StudyConfig:
    """``cfg`` with local model paths and checkpoints made absolute, once, where the study is started."""
    models = []
    for m in cfg.models:
        prefix = RANDOM_PREFIX if m.startswith(RANDOM_PREFIX) else ""
        models.append(prefix + ModelIdentity.resolve(m[len(prefix) :]).name)
    ckpt = ModelIdentity.resolve("x", s3prl_ckpt=cfg.s3prl_ckpt).s3prl_ckpt if cfg.s3prl_ckpt else None
    return replace(cfg, models=models, s3prl_ckpt=ckpt)


def load_config(run_dir: Path) -> StudyConfig:
    """The configuration a study saved in ``run_dir`` (unknown keys from other versions are refused)."""
    path = RunLayout(run_dir).config
    try:
        return StudyConfig(**json.loads(path.read_text()))
    except TypeError as e:
        raise PitchProbeError(f"{path} was written by another pitchprobe version: {e}") from e


__all__ = [
    "load_config",
    "EXECUTORS",
    "FIT",
    "OTHERS",
    "PHASES",
    "POOL",
    "POOLED",
    "SCORE",
    "fit_languages",
    "RANDOM_PREFIX",
    "StudyConfig",
    "Unit",
    "FLAG_GROUPS",
    "STUDY_EXAMPLES",
    "add_arguments",
    "model_variants",
    "resolved",
    "split_list",
    "study_command",
    "units_of",
]
