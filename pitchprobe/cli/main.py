"""The ``pitchprobe`` command: one subcommand per stage, plus ``demo``.

The prototype's scripts are thin aliases::

    python gather_data.py ...       = pitchprobe gather ...
    python make_pitch_data.py ...   = pitchprobe labels ...
    python get_hidden_states.py ... = pitchprobe states ...
    python linear_regress.py ...    = pitchprobe probe ...
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pitchprobe.core.errors import PitchProbeError
from pitchprobe.core.layout import SPLITS
from pitchprobe.data.fleurs import GENDERS
from pitchprobe.labels.pitch import F0_MAX_HZ, F0_MIN_HZ, FRAME_LENGTH_MS, FRAME_SPACE_MS
from pitchprobe.models import DEFAULT_BATCH_SIZE, DEFAULT_MODEL
from pitchprobe.study.config import StudyConfig, add_arguments, split_list


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", help="data root (default: $PITCHPROBE_DATA_DIR or ~/.local/share/pitchprobe)")
    p.add_argument("--languages", help="language table TSV overruling the packaged one ($PITCHPROBE_LANGUAGES)")
    p.add_argument("--fail-fast", action="store_true", help="stop at the first bad file instead of recording it")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")


def _model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default=DEFAULT_MODEL, help="S3PRL upstream name, HF model id, or local directory")
    p.add_argument("--random-init", action="store_true", help="same architecture, fresh weights (control)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default auto)")
    p.add_argument(
        "--batch-size", type=int, default=DEFAULT_BATCH_SIZE, help="utterances per forward (layer-norm models only)"
    )
    p.add_argument("--seed", type=int, default=0, help="seed of --random-init")
    p.add_argument("--s3prl-ckpt", help="checkpoint path/URL for S3PRL *_local/*_url/*_custom upstreams")


def _source_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--source", help="local folder in the FLEURS repository layout (default: the HF Hub)")
    p.add_argument("--repo", default="google/fleurs", help="HF dataset repository (default google/fleurs)")
    p.add_argument("--revision", help="HF revision (branch, tag or commit)")
    p.add_argument("--gender", default="all", choices=list(GENDERS), help="keep only speakers of this gender")


def _source(args):
    from pitchprobe.data.fleurs import HubSource, LocalSource

    return LocalSource(args.source) if args.source else HubSource(args.repo, revision=args.revision)


def _splits(text: str) -> tuple[str, ...]:
    out = tuple(split_list(text))
    bad = [s for s in out if s not in SPLITS]
    if bad or not out:
        raise argparse.ArgumentTypeError(f"splits must be among {','.join(SPLITS)}, got {text!r}")
    return out


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pitchprobe", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    g = sub.add_parser("gather", help="fetch FLEURS (or convert a folder) and write manifests")
    _common(g)
    g.add_argument("langs", nargs="*", help="FLEURS codes, lang_ids, or all (comma- or space-separated)")
    _source_args(g)
    g.add_argument("--splits", type=_splits, default=SPLITS, help="comma-separated (default train,dev,test)")
    g.add_argument("--from-dir", help="turn this folder of recordings into corpus --name")
    g.add_argument("--name", help="corpus name for --from-dir")
    g.add_argument("--split-ratios", default="0.8,0.1,0.1", help="train,dev,test ratios for --from-dir")
    g.add_argument("--tone-class", default="unknown", help="tone class recorded for --from-dir")

    lab = sub.add_parser("labels", help="pYAAPT F0 labels for gathered languages")
    _common(lab)
    lab.add_argument("langs", nargs="+", help="codes, lang_ids, or all")
    lab.add_argument("--jobs", type=int, default=None, help="worker processes (default: all cores)")
    lab.add_argument("--frame-length", type=float, default=FRAME_LENGTH_MS, help=f"ms (default {FRAME_LENGTH_MS})")
    lab.add_argument(
        "--frame-space", type=float, default=FRAME_SPACE_MS, help=f"label hop, ms (default {FRAME_SPACE_MS})"
    )
    lab.add_argument("--f0-min", type=float, default=F0_MIN_HZ, help=f"Hz (default {F0_MIN_HZ})")
    lab.add_argument("--f0-max", type=float, default=F0_MAX_HZ, help=f"Hz (default {F0_MAX_HZ})")
    lab.add_argument("--splits", type=_splits, default=SPLITS)
    lab.add_argument("--overwrite", action="store_true", help="recompute existing labels")
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

    sd = sub.add_parser("study", help="many languages x models (+ controls, transfer) -> tables, figures, report")
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


def _root(args) -> Path:
    from pitchprobe.core.layout import data_dir

    return data_dir(args.data_dir)


def _langs(args, names):
    from pitchprobe.data.languages import load_table
    from pitchprobe.data.manifest import resolve_gathered

    return resolve_gathered(split_list(list(names)), load_table(args.languages), _root(args))


def cmd_gather(args) -> int:
    from pitchprobe.data import fleurs as g
    from pitchprobe.data.languages import load_table, resolve

    root = _root(args)
    if args.from_dir:
        from pitchprobe.data.owncorpus import gather_folder

        if not args.name:
            raise PitchProbeError("--from-dir needs --name")
        try:
            ratios = tuple(float(x) for x in args.split_ratios.split(","))
        except ValueError as e:
            raise PitchProbeError(f"--split-ratios must be three numbers, got {args.split_ratios!r}") from e
        if len(ratios) != 3:
            raise PitchProbeError(f"--split-ratios must be three numbers, got {args.split_ratios!r}")
        records, failures = gather_folder(
            args.from_dir,
            name=args.name,
            root=root,
            ratios=ratios,
            tone_class=args.tone_class,
            fail_fast=args.fail_fast,
        )
        counts = {s: sum(r["split"] == s for r in records) for s in SPLITS}
        print(f"{args.name}: {len(records)} files ({counts}), {len(failures)} failed -> {root}")
        for f in failures:
            print(f"  failed: {f['path']}: {f['reason']}")
        return 0
    if not args.langs:
        raise PitchProbeError("name languages to gather (codes, lang_ids or all), or use --from-dir")
    langs = resolve(split_list(args.langs), load_table(args.languages))
    source = _source(args)
    summaries = g.gather(
        langs, root=root, source=source, gender=args.gender, splits=args.splits, fail_fast=args.fail_fast
    )
    for s in summaries:
        print(f"{s.code}: {s.kept} utterances, extracted {s.extracted or 'nothing new'}")
        for p in s.problems:
            print(f"  problem: {p}")
    print(f"manifests in {root / 'manifests'}")
    return 0


def cmd_labels(args) -> int:
    from pitchprobe.core.layout import manifest_path
    from pitchprobe.data.fleurs import gather_language
    from pitchprobe.labels.pitch import PitchParams, make_labels

    params = PitchParams(args.frame_length, args.frame_space, args.f0_min, args.f0_max)
    root = _root(args)
    for lang in _langs(args, args.langs):
        if not manifest_path(root, lang.code).is_file():
            source = _source(args)
            print(f"{lang.code}: not gathered yet, gathering it from {source} first")
            gathered = gather_language(lang, root=root, source=source, gender=args.gender)
            print(f"{lang.code}: {gathered.kept} utterances")
        s = make_labels(
            lang.code,
            root=root,
            params=params,
            jobs=args.jobs,
            splits=args.splits,
            fail_fast=args.fail_fast,
            overwrite=args.overwrite,
            progress=not args.quiet,
        )
        speed = s.audio_seconds / s.wall_seconds if s.wall_seconds else 0.0
        print(
            f"{s.code}: {s.total} utterances, {s.already_done} already labelled, {s.computed} labelled now "
            f"({s.audio_seconds:.0f} s of audio, {speed:.0f}x real time), {len(s.failed)} failed"
        )
        for f in s.failed:
            print(f"  failed: {f['split']}/{f['id']}: {f['reason']}: {f['message']}")
    return 0


def _load_backend(args):
    from pitchprobe.models import load_model

    return load_model(
        args.model,
        random_init=args.random_init,
        device=args.device,
        seed=args.seed,
        batch_size=args.batch_size,
        s3prl_ckpt=args.s3prl_ckpt,
    )


def cmd_states(args) -> int:
    from pitchprobe.models.states import dump_states

    root = _root(args)
    (lang,) = _langs(args, [args.lang])
    backend = _load_backend(args)
    layers = None if args.layers == "all" else [int(x) for x in split_list(args.layers)]
    written, failures = dump_states(
        lang.code,
        root=root,
        backend=backend,
        split=args.split,
        layers=layers,
        ids=split_list(args.ids) if args.ids else None,
        limit=args.limit,
        out_dir=Path(args.out) if args.out else None,
        fail_fast=args.fail_fast,
        progress=not args.quiet,
    )
    print(f"{lang.code}: wrote {len(written)} files" + (f" to {written[0].parent}" if written else ""))
    for f in failures:
        print(f"  failed: {f['id']}: {f['reason']}: {f['message']}")
    return 0


def cmd_probe(args) -> int:
    from pitchprobe.probe.console import summary_text
    from pitchprobe.probe.run import run_probe

    root = _root(args)
    langs = _langs(args, args.langs)
    if args.output and len(langs) > 1:
        raise PitchProbeError("--output names one file; give one language")
    backend = _load_backend(args)
    for lang in langs:
        res = run_probe(
            lang.code,
            root=root,
            backend=backend,
            alpha=args.alpha,
            gender=args.gender,
            postprocess=args.postprocess,
            fail_fast=args.fail_fast,
            output=Path(args.output) if args.output else None,
            save_predictions=not args.no_predictions,
            progress=not args.quiet,
        )
        print(summary_text(res))
    return 0


def cmd_study(args) -> int:
    from dataclasses import fields

    from pitchprobe.study.run import run_study

    root = _root(args)
    opts = {f.name: getattr(args, f.name) for f in fields(StudyConfig) if hasattr(args, f.name)}
    opts["langs"] = [lang.code for lang in _langs(args, split_list(args.langs))]
    opts["train_langs"] = [lang.code for lang in _langs(args, split_list(args.train_langs))]
    opts["models"] = split_list(args.models)
    if not opts["models"] or not opts["langs"]:
        raise PitchProbeError("--langs and --models must name at least one each")
    for key in ("run_dir", "source"):
        opts[key] = str(Path(opts[key]).expanduser().resolve()) if opts[key] else None
    opts.update(
        data_dir=str(root),
        languages_table=str(Path(args.languages).resolve()) if args.languages else None,
        fail_fast=args.fail_fast,
    )
    summary = run_study(StudyConfig(**opts), progress=not args.quiet)
    print(summary.text())
    print(f"report: {summary.report} (and report.md, tables/, figures/)")
    return 1 if summary.failed else 0


def cmd_report(args) -> int:
    from pitchprobe.analysis.report import make_report

    path = make_report(Path(args.run_dir), bootstrap=args.bootstrap, permutations=args.permutations, seed=args.seed)
    print(f"report: {path}")
    return 0


def cmd_demo(args) -> int:
    from pitchprobe.demo import run_demo

    run_demo(data_dir=args.data_dir, seed=args.seed, device=args.device, progress=not args.quiet, open_report=args.open)
    return 0


COMMANDS = {
    "gather": cmd_gather,
    "labels": cmd_labels,
    "states": cmd_states,
    "probe": cmd_probe,
    "study": cmd_study,
    "report": cmd_report,
    "demo": cmd_demo,
}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except PitchProbeError as e:
        print(f"pitchprobe {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; rerun the same command to resume", file=sys.stderr)
        return 130


def script_main(command: str) -> None:
    """Entry point of the prototype-named scripts (``python make_pitch_data.py 19``)."""
    sys.exit(main([command, *sys.argv[1:]]))


__all__ = ["main", "build_parser", "script_main"]
