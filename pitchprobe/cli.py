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

from .errors import PitchProbeError
from .paths import SPLITS


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", help="data root (default: $PITCHPROBE_DATA_DIR or ~/.local/share/pitchprobe)")
    p.add_argument("--languages", help="language table TSV overruling the packaged one ($PITCHPROBE_LANGUAGES)")
    p.add_argument("--fail-fast", action="store_true", help="stop at the first bad file instead of recording it")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")


def _model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default="hubert", help="S3PRL upstream name, HF model id, or local directory")
    p.add_argument("--random-init", action="store_true", help="same architecture, fresh weights (control)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default auto)")
    p.add_argument("--batch-size", type=int, default=8, help="utterances per forward (layer-norm models only)")
    p.add_argument("--seed", type=int, default=0, help="seed of --random-init")
    p.add_argument("--s3prl-ckpt", help="checkpoint path/URL for S3PRL *_local/*_url/*_custom upstreams")


def _source_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--source", help="local folder in the FLEURS repository layout (default: the HF Hub)")
    p.add_argument("--repo", default="google/fleurs", help="HF dataset repository (default google/fleurs)")
    p.add_argument("--revision", help="HF revision (branch, tag or commit)")
    p.add_argument("--gender", default="all", choices=["all", "female", "male", "other"])


def _source(args):
    from .gather import HubSource, LocalSource

    return LocalSource(args.source) if args.source else HubSource(args.repo, revision=args.revision)


def _splits(text: str) -> tuple[str, ...]:
    out = tuple(s.strip() for s in text.split(",") if s.strip())
    bad = [s for s in out if s not in SPLITS]
    if bad or not out:
        raise argparse.ArgumentTypeError(f"splits must be among {','.join(SPLITS)}, got {text!r}")
    return out


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pitchprobe", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    g = sub.add_parser("gather", help="fetch FLEURS (or convert a folder) and write manifests")
    _common(g)
    g.add_argument("langs", nargs="*", help="FLEURS codes, lang_ids, or all")
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
    lab.add_argument("--frame-length", type=float, default=25.0, help="ms (default 25)")
    lab.add_argument("--frame-space", type=float, default=20.0, help="label hop in ms (default 20)")
    lab.add_argument("--f0-min", type=float, default=60.0, help="Hz (default 60)")
    lab.add_argument("--f0-max", type=float, default=400.0, help="Hz (default 400)")
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
    pr.add_argument("--postprocess", action="store_true", help="headline MSE after the prototype's smoothing")
    pr.add_argument("--output", help="results JSON (one language only)")
    pr.add_argument("--no-predictions", action="store_true", help="do not keep test predictions")

    sd = sub.add_parser("study", help="many languages x models (+ controls, transfer) -> tables, figures, report")
    _common(sd)
    sd.add_argument("--langs", required=True, help="comma-separated codes, lang_ids, or all")
    sd.add_argument(
        "--models",
        default="hubert",
        help="comma-separated model names (default hubert); random:NAME = only its random-init copy",
    )
    sd.add_argument("--controls", action="store_true", help="add the random-init copy of each model")
    sd.add_argument("--train-lang", default="", help="transfer: comma-separated train languages (matrix mode)")
    sd.add_argument("--run-dir", help="run directory (default: the data directory)")
    sd.add_argument("--alpha", type=float, default=None, help="fixed ridge alpha; 0 = least squares")
    sd.add_argument("--device", default="auto")
    sd.add_argument("--batch-size", type=int, default=8)
    sd.add_argument("--seed", type=int, default=0, help="seeds random init, bootstrap and permutations")
    sd.add_argument("--jobs", type=int, default=None, help="processes for pitch labels")
    sd.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples (default 1000)")
    sd.add_argument("--permutations", type=int, default=10000, help="permutations per test (default 10000)")
    sd.add_argument("--executor", default="local", choices=["local", "slurm", "submitit-local"])
    sd.add_argument("--partition", help="slurm partition")
    sd.add_argument("--time", type=int, default=240, help="slurm time limit per unit, minutes")
    sd.add_argument("--cpus", type=int, default=8, help="slurm CPUs per unit")
    sd.add_argument("--gpus", type=int, default=0, help="slurm GPUs per unit")
    _source_args(sd)

    rp = sub.add_parser("report", help="tables, tests, figures and report.html/.md for a run directory")
    rp.add_argument("run_dir")
    rp.add_argument("--bootstrap", type=int, default=1000)
    rp.add_argument("--permutations", type=int, default=10000)
    rp.add_argument("--seed", type=int, default=0)

    d = sub.add_parser("demo", help="offline demo on a synthetic corpus with known F0")
    d.add_argument("--data-dir", help="where the demo writes (default <data_dir>/demo)")
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--device", default="auto")
    d.add_argument("-q", "--quiet", action="store_true")
    d.add_argument("--open", action="store_true", help="open the report in a web browser")
    return parser


def _root(args) -> Path:
    from .paths import data_dir

    return data_dir(args.data_dir)


def _langs(args, names):
    from .languages import load_table
    from .manifest import resolve_gathered

    return resolve_gathered(list(names), load_table(args.languages), _root(args))


def cmd_gather(args) -> int:
    from . import gather as g
    from .languages import load_table, resolve

    root = _root(args)
    if args.from_dir:
        from .owncorpus import gather_folder

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
    langs = resolve(args.langs, load_table(args.languages))
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
    from .gather import gather_language
    from .paths import manifest_path
    from .pitch import PitchParams, make_labels

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
    from .models import load_model

    return load_model(
        args.model,
        random_init=args.random_init,
        device=args.device,
        seed=args.seed,
        batch_size=args.batch_size,
        s3prl_ckpt=args.s3prl_ckpt,
    )


def cmd_states(args) -> int:
    from .states import dump_states

    root = _root(args)
    (lang,) = _langs(args, [args.lang])
    backend = _load_backend(args)
    layers = None if args.layers == "all" else [int(x) for x in args.layers.split(",")]
    written, failures = dump_states(
        lang.code,
        root=root,
        backend=backend,
        split=args.split,
        layers=layers,
        ids=args.ids,
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
    from .probe import run_probe

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
            postprocess=args.postprocess,
            fail_fast=args.fail_fast,
            output=Path(args.output) if args.output else None,
            save_predictions=not args.no_predictions,
            progress=not args.quiet,
        )
        print(summary_text(res))
    return 0


def summary_text(res: dict) -> str:
    """Run summary, per-layer table and the prototype's line, as printed by ``probe``."""
    from .probe import format_table, prototype_line

    c = res["counts"]
    lang = res["language"]
    head = (
        f"== {lang['code']} (lang_id {lang['lang_id']}, {lang['tone_class']}) | model {res['model']['name']}"
        f"{' (random init)' if res['model']['random_init'] else ''} | "
        + ", ".join(f"{s}: {c[s]['utterances']} utt / {c[s]['frames']} frames" for s in c)
    )
    lines = [head]
    if res["failures"]:
        lines.append(f"   {len(res['failures'])} utterances failed:")
        lines += [f"   - {f['split']}/{f['id']}: {f['reason']}" for f in res["failures"]]
    dropped = sum(c[s]["dropped_frames"] for s in c)
    lines.append(f"   label frames with no model frame in range (dropped): {dropped}")
    lines += [format_table(res), prototype_line(res), f"results: {res['output']}"]
    return "\n".join(lines)


def cmd_study(args) -> int:
    from .study import StudyConfig, run_study

    root = _root(args)
    langs = [lang.code for lang in _langs(args, [x for x in args.langs.split(",") if x])]
    train = [lang.code for lang in _langs(args, [x for x in args.train_lang.split(",") if x])]
    models = [m for m in args.models.split(",") if m]
    if not models or not langs:
        raise PitchProbeError("--langs and --models must name at least one each")
    cfg = StudyConfig(
        langs=langs,
        models=models,
        run_dir=str(Path(args.run_dir).expanduser().resolve()) if args.run_dir else str(root),
        data_dir=str(root),
        controls=args.controls,
        train_langs=train,
        alpha=args.alpha,
        languages_table=str(Path(args.languages).resolve()) if args.languages else None,
        source=str(Path(args.source).resolve()) if args.source else None,
        repo=args.repo,
        revision=args.revision,
        gender=args.gender,
        device=args.device,
        batch_size=args.batch_size,
        seed=args.seed,
        jobs=args.jobs,
        bootstrap=args.bootstrap,
        permutations=args.permutations,
        executor=args.executor,
        slurm_partition=args.partition,
        slurm_time_min=args.time,
        slurm_cpus=args.cpus,
        slurm_gpus=args.gpus,
    )
    summary = run_study(cfg, progress=not args.quiet)
    print(summary.text())
    print(f"report: {Path(cfg.run_dir) / 'report.html'} (and report.md, tables/, figures/)")
    return 1 if summary.failed and args.fail_fast else 0


def cmd_report(args) -> int:
    from .report import make_report

    path = make_report(Path(args.run_dir), bootstrap=args.bootstrap, permutations=args.permutations, seed=args.seed)
    print(f"report: {path}")
    return 0


def cmd_demo(args) -> int:
    from .demo import run_demo

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


__all__ = ["main", "build_parser", "script_main", "summary_text"]
