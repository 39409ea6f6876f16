"""The ``pitchprobe`` command line: one subparser per stage, with defaults from the library's constants."""

from __future__ import annotations

import argparse

from pitchprobe.core.layout import DEFAULT_LABELS, SPLITS
from pitchprobe.data.fleurs import GENDERS
from pitchprobe.data.sources import FLEURS_REPO
from pitchprobe.labels.pitch import F0_MAX_HZ, F0_MIN_HZ, FRAME_LENGTH_MS, FRAME_SPACE_MS
from pitchprobe.labels.trackers import DEFAULT_TRACKER, TRACKERS
from pitchprobe.models import DEFAULT_BATCH_SIZE, DEFAULT_DTYPE, DEFAULT_MAX_BATCH_SECONDS, DEFAULT_MODEL, DTYPES
from pitchprobe.models.base import BF16_EMULATED_SLOWDOWN
from pitchprobe.study.config import STUDY_EXAMPLES, add_arguments, split_list


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", help="data root (default: $PITCHPROBE_DATA_DIR or ~/.local/share/pitchprobe)")
    p.add_argument("--languages", help="language table TSV overruling the packaged one ($PITCHPROBE_LANGUAGES)")
    p.add_argument(
        "--fail-fast", action="store_true", help="stop at the first failure of any kind instead of recording it"
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")


def _model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default=DEFAULT_MODEL, help="S3PRL upstream name, HF model id, or local directory")
    p.add_argument("--random-init", action="store_true", help="same architecture, fresh weights (control)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default auto)")
    p.add_argument(
        "--batch-size",
        type=int,
        default=None,
        help=f"utterances per forward (default {DEFAULT_BATCH_SIZE} on a GPU, 1 on the CPU)",
    )
    p.add_argument("--dtype", default=DEFAULT_DTYPE, choices=DTYPES, help="forward precision; the sums stay float64")
    p.add_argument(
        "--force-dtype",
        action="store_true",
        help=f"run --dtype bfloat16 on a CPU without native bf16 all the same (about {BF16_EMULATED_SLOWDOWN}x slower)",
    )
    p.add_argument(
        "--max-batch-seconds",
        type=float,
        default=DEFAULT_MAX_BATCH_SECONDS,
        help=f"most audio per forward, padding included, s (default {DEFAULT_MAX_BATCH_SECONDS:g})",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of --random-init")
    p.add_argument("--s3prl-ckpt", help="checkpoint path/URL for S3PRL *_local/*_url/*_custom upstreams")
    p.add_argument(
        "--trust-checkpoint",
        action="store_true",
        help="allow a --s3prl-ckpt that needs Python pickle (which can run code): only for files you trust",
    )


def _source_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--source", help="local folder in the FLEURS repository layout (default: the HF Hub)")
    p.add_argument("--repo", default=FLEURS_REPO, help=f"HF dataset repository (default {FLEURS_REPO})")
    p.add_argument("--revision", help="HF revision (branch, tag or commit)")
    p.add_argument("--gender", default="all", choices=list(GENDERS), help="keep only speakers of this gender")
    p.add_argument(
        "--delete-archives",
        action="store_true",
        help="delete each downloaded archive from the Hugging Face cache once its extraction is verified",
    )


def _splits(text: str) -> tuple[str, ...]:
    out = tuple(split_list(text))
    bad = [s for s in out if s not in SPLITS]
    if bad or not out:
        raise argparse.ArgumentTypeError(f"splits must be among {','.join(SPLITS)}, got {text!r}")
    return out


def build_parser() -> argparse.ArgumentParser:
    from pitchprobe import __version__

    parser = argparse.ArgumentParser(
        prog="pitchprobe", description="How much pitch (F0) does each layer of a speech model hold?"
    )
    parser.add_argument("--version", action="version", version=f"pitchprobe {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    g = sub.add_parser("gather", help="fetch FLEURS (or convert a folder) and write manifests")
    _common(g)
    g.add_argument("langs", nargs="*", help="FLEURS codes, lang_ids, or all (comma- or space-separated)")
    _source_args(g)
    g.add_argument("--splits", type=_splits, default=SPLITS, help="comma-separated (default train,dev,test)")
    g.add_argument("--dry-run", action="store_true", help="fetch only the TSVs and print the disk each language needs")
    g.add_argument("--from-dir", help="turn this folder of recordings into corpus --name")
    g.add_argument("--name", help="corpus name for --from-dir")
    g.add_argument("--split-ratios", default="0.8,0.1,0.1", help="train,dev,test ratios for --from-dir")
    g.add_argument("--tone-class", default="unknown", help="tone class recorded for --from-dir")

    lab = sub.add_parser("labels", help="F0 labels (pYAAPT, or other trackers) for gathered languages")
    _common(lab)
    lab.add_argument("langs", nargs="+", help="codes, lang_ids, or all")
    lab.add_argument(
        "--tracker",
        default=DEFAULT_TRACKER,
        help=f"comma-separated pitch trackers, each labelled apart: {', '.join(TRACKERS)} (default {DEFAULT_TRACKER})",
    )
    lab.add_argument(
        "--consensus",
        action="store_true",
        help="then combine them: frames where at least two agree within 50 cents, the rest masked",
    )
    lab.add_argument("--jobs", type=int, default=None, help="worker processes (default: all cores)")
    lab.add_argument("--frame-length", type=float, default=FRAME_LENGTH_MS, help=f"ms (default {FRAME_LENGTH_MS})")
    lab.add_argument(
        "--frame-space", type=float, default=FRAME_SPACE_MS, help=f"label hop, ms (default {FRAME_SPACE_MS})"
    )
    lab.add_argument("--f0-min", type=float, default=F0_MIN_HZ, help=f"Hz (default {F0_MIN_HZ})")
    lab.add_argument("--f0-max", type=float, default=F0_MAX_HZ, help=f"Hz (default {F0_MAX_HZ})")
    lab.add_argument("--splits", type=_splits, default=SPLITS)
    lab.add_argument("--overwrite", action="store_true", help="recompute existing labels")
    lab.add_argument(
        "--retry-failed", action="store_true", help="label again files that failed for a reason of their own, too"
    )
    _source_args(lab)  # used only for languages not gathered yet

    st = sub.add_parser("states", help="write hidden states of chosen layers and utterances to disk")
    _common(st)
    st.add_argument("lang", help="code or lang_id")
    _model_args(st)
    st.add_argument("--split", default="test", choices=list(SPLITS))
    st.add_argument("--layers", default="all", help="comma-separated layer indices, or all")
    st.add_argument("--ids", nargs="*", help="utterance ids (default: all of the split)")
    st.add_argument("--limit", type=int, help="at most this many utterances")
    st.add_argument("--out", help="output folder (default <data_dir>/states/<model>/<code>/<split>)")

    pr = sub.add_parser("probe", help="linear probe of every layer for F0")
    _common(pr)
    pr.add_argument("langs", nargs="+", help="codes, lang_ids, or all")
    _model_args(pr)
    pr.add_argument("--alpha", type=float, default=None, help="fixed ridge alpha; 0 = least squares")
    pr.add_argument("--gender", default="all", choices=list(GENDERS), help="probe only speakers of this gender")
    pr.add_argument("--postprocess", action="store_true", help="headline MSE after the prototype's smoothing")
    pr.add_argument("--output", help="results JSON (one language only)")
    pr.add_argument("--no-predictions", action="store_true", help="do not keep test predictions")
    pr.add_argument(
        "--labels",
        default=DEFAULT_LABELS,
        help=f"the labels to fit and score on: a tracker's ({', '.join(TRACKERS)}) or consensus "
        f"(default {DEFAULT_LABELS})",
    )

    sd = sub.add_parser(
        "study",
        help="many languages x models (+ controls, transfer) -> tables, figures, report",
        epilog=STUDY_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _common(sd)
    add_arguments(sd)  # every flag from StudyConfig's fields, with the library's defaults

    rp = sub.add_parser("report", help="tables, tests, figures and report.html/.md for a run directory")
    rp.add_argument("run_dir")
    rp.add_argument("--bootstrap", type=int, help="bootstrap resamples (default: the study's own)")
    rp.add_argument("--permutations", type=int, help="permutations per test (default: the study's own)")
    rp.add_argument("--seed", type=int, help="seed of the statistics (default: the study's own)")

    d = sub.add_parser("demo", help="offline demo on a synthetic corpus with known F0")
    d.add_argument("--data-dir", help="where the demo writes (default <data_dir>/demo)")
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--device", default="auto")
    d.add_argument("-q", "--quiet", action="store_true")
    d.add_argument("--open", action="store_true", help="open the report in a web browser")
    return parser


__all__ = ["build_parser"]
