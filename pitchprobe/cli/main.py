"""The ``pitchprobe`` command: one subcommand per stage, plus ``demo``.

The prototype's scripts are thin aliases::

    python gather_data.py ...       = pitchprobe gather ...
    python make_pitch_data.py ...   = pitchprobe labels ...
    python get_hidden_states.py ... = pitchprobe states ...
    python linear_regress.py ...    = pitchprobe probe ...
"""

from __future__ import annotations

import sys
from pathlib import Path

from pitchprobe.cli.parser import build_parser
from pitchprobe.core.errors import PitchProbeError, Terminated, contained, describe
from pitchprobe.core.interrupt import sigterm_as_interrupt
from pitchprobe.core.layout import SPLITS
from pitchprobe.study.config import StudyConfig, split_list


def _source(args):
    from pitchprobe.data.fleurs import HubSource, LocalSource

    return LocalSource(args.source) if args.source else HubSource(args.repo, revision=args.revision)


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
        return 0 if records else 1
    if not args.langs:
        raise PitchProbeError("name languages to gather (codes, lang_ids or all), or use --from-dir")
    langs = resolve(split_list(args.langs), load_table(args.languages))
    source = _source(args)
    if args.dry_run:
        from pitchprobe.data.disk import disk_needed, disk_table

        needs = disk_needed(langs, source=source, splits=args.splits)
        print(disk_table(needs))
        return _finish([(n.code, n.error) for n in needs if n.error], len(langs), "TSV", shown=True)
    summaries = g.gather(langs, root=root, source=source, splits=args.splits, **_gather_options(args))
    for s in summaries:
        _print_gathered(s)
    print(f"manifests in {root / 'manifests'}")
    failed = [(s.code, s.failure) for s in summaries if not s.ok]
    return _finish(failed, len(langs), "manifest", shown=True)


def _gather_options(args) -> dict:
    """The gather flags every command that may gather shares."""
    return {"gender": args.gender, "fail_fast": args.fail_fast, "delete_archives": args.delete_archives}


def _print_gathered(s) -> None:
    print(
        f"{s.code}: {sum(s.kept.values())} utterances {s.kept} ({s.audio_bytes / 1e9:.2f} GB of audio), "
        f"extracted {s.extracted or 'nothing new'}" + (f", deleted archives {s.deleted}" if s.deleted else "")
    )
    if s.error:
        print(f"  failed: {s.error}")
    for split, reason in s.failed_splits.items():
        print(f"  failed split {split}: {reason}")
    for p in s.problems:
        print(f"  problem: {p}")


def _each_language(langs, work, *, fail_fast: bool) -> list[tuple[str, str]]:
    """``work(lang)`` for each language; a failure of any kind is that language's: ``[(code, reason)]``, said
    once, by :func:`_finish`.

    With ``fail_fast`` the first failure stops the command instead, as a one-line error.
    """
    failed = []
    for lang in langs:
        reason = contained(lang.code, lambda lang=lang: work(lang), fail_fast=fail_fast)
        if reason is not None:
            failed.append((lang.code, reason))
    return failed


def _finish(failed: list[tuple[str, str]], total: int, what: str, *, shown: bool = False) -> int:
    """Print which languages produced no result, with their reasons unless already ``shown``; the exit code says
    whether any did not."""
    if failed and shown:
        print(f"{len(failed)} of {total} languages produced no {what}: {', '.join(c for c, _ in failed)} (above)")
    elif failed:
        print(f"{len(failed)} of {total} languages produced no {what}:")
        for code, reason in failed:
            print(f"  {code}: {reason}")
    return 1 if failed else 0


def cmd_labels(args) -> int:
    from pitchprobe.core.layout import manifest_path
    from pitchprobe.data.fleurs import gather_language
    from pitchprobe.labels.consensus import consensus_params, make_consensus
    from pitchprobe.labels.make import make_labels
    from pitchprobe.labels.pitch import PitchParams
    from pitchprobe.labels.trackers import require

    trackers = split_list(args.tracker)
    every = [PitchParams(args.frame_length, args.frame_space, args.f0_min, args.f0_max, t) for t in trackers]
    for t in trackers:
        require(t)  # an unknown or missing tracker is one message, before any language starts
    combined = consensus_params(every[0], trackers) if args.consensus else None
    root = _root(args)
    langs = _langs(args, args.langs)

    def work(lang) -> None:
        if not manifest_path(root, lang.code).is_file():
            source = _source(args)
            print(f"{lang.code}: not gathered yet, gathering it from {source} first")
            gathered = gather_language(lang, root=root, source=source, **_gather_options(args))
            _print_gathered(gathered)
            if not gathered.ok:
                raise PitchProbeError("gathering failed (why: above)")
        for params in every:
            s = make_labels(
                lang.code,
                root=root,
                params=params,
                jobs=args.jobs,
                splits=args.splits,
                fail_fast=args.fail_fast,
                overwrite=args.overwrite,
                retry_failed=args.retry_failed,
                progress=not args.quiet,
            )
            speed = s.audio_seconds / s.wall_seconds if s.wall_seconds else 0.0
            print(
                f"{s.code} ({params.tracker}): {s.total} utterances, {s.already_done} already labelled, "
                f"{s.computed} labelled now ({s.retried} retried; {s.audio_seconds:.0f} s of audio, "
                f"{speed:.0f}x real time), {len(s.failed)} failed"
            )
            for f in s.failed:
                print(f"  failed: {f['split']}/{f['id']}: {f['reason']}: {f['message']}")
            if s.total and not s.ok:
                raise PitchProbeError(f"no utterance could be labelled by {params.tracker} ({len(s.failed)} failed)")
        if combined is not None:
            counts = make_consensus(lang.code, root=root, params=combined, splits=args.splits)
            frames = sum(c["frames"] for c in counts.values())
            kept = frames - sum(c["masked"] for c in counts.values())
            print(f"{lang.code} (consensus of {', '.join(trackers)}): {kept} of {frames} frames trusted")

    return _finish(_each_language(langs, work, fail_fast=args.fail_fast), len(langs), "labels")


def _load_backend(args):
    from pitchprobe.models import load_model

    return load_model(
        args.model,
        random_init=args.random_init,
        device=args.device,
        seed=args.seed,
        batch_size=args.batch_size,
        max_batch_seconds=args.max_batch_seconds,
        dtype=args.dtype,
        force_dtype=args.force_dtype,
        s3prl_ckpt=args.s3prl_ckpt,
        trust_checkpoint=args.trust_checkpoint,
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
    return 0 if written or not failures else 1


def cmd_probe(args) -> int:
    from pitchprobe.core.layout import model_calibration_path
    from pitchprobe.models.calibrate import place_frames
    from pitchprobe.probe.console import summary_text
    from pitchprobe.probe.run import run_probe

    root = _root(args)
    langs = _langs(args, args.langs)
    if args.output and len(langs) > 1:
        raise PitchProbeError("--output names one file; give one language")
    backend = _load_backend(args)
    place_frames(backend, cache=model_calibration_path(root, backend.tag))  # where the study places them too

    def work(lang) -> None:
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
            labels=args.labels,
        )
        print(summary_text(res))

    return _finish(_each_language(langs, work, fail_fast=args.fail_fast), len(langs), "probe result")


def cmd_study(args) -> int:
    from dataclasses import fields

    from pitchprobe.study.run import run_study

    root = _root(args)
    opts = {f.name: getattr(args, f.name) for f in fields(StudyConfig) if hasattr(args, f.name)}
    opts["langs"] = [lang.code for lang in _langs(args, split_list(args.langs))]
    train = split_list(args.train_langs)  # "all": every language of the study
    opts["train_langs"] = opts["langs"] if train == ["all"] else [lang.code for lang in _langs(args, train)]
    opts["models"] = split_list(args.models)
    opts["trackers"] = split_list(args.trackers)
    if not opts["models"] or not opts["langs"]:
        raise PitchProbeError("--langs and --models must name at least one each")
    for key in ("run_dir", "source"):
        opts[key] = str(Path(opts[key]).expanduser().resolve()) if opts[key] else None
    opts.update(
        data_dir=str(root),
        languages_table=str(Path(args.languages).resolve()) if args.languages else None,
        fail_fast=args.fail_fast,
    )
    cfg = StudyConfig(**opts)
    if cfg.dry_run:
        from pitchprobe.study.plan import plan_study

        print(plan_study(cfg).text())
        return 0
    summary = run_study(cfg, progress=not args.quiet)
    print(summary.text())
    if not summary.done and not summary.skipped:
        print(f"no unit produced a result: no report written (run directory {summary.run_dir})")
        return 1
    from pitchprobe.analysis.report import make_report

    make_report(summary.run_dir, summary=summary)  # the next stage: only the results current for this study
    if summary.report is not None:
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
    """Run one command; exit codes: 0 all done, 1 some language or unit gave no result, 2 error, 130/143 signal."""
    args = build_parser().parse_args(argv)
    try:
        with sigterm_as_interrupt():  # SIGTERM stops as cleanly as Ctrl-C
            return COMMANDS[args.command](args)
    except (PitchProbeError, OSError) as e:  # expected faults: bad input, a full disk, a read-only folder
        print(f"pitchprobe {args.command}: error: {describe(e)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as e:
        print(f"{str(e) or 'interrupted'}; rerun the same command to resume", file=sys.stderr)
        return 143 if isinstance(e, Terminated) else 130


def script_main(command: str) -> None:
    """Entry point of the prototype-named scripts (``python make_pitch_data.py 19``)."""
    sys.exit(main([command, *sys.argv[1:]]))


__all__ = ["main", "build_parser", "script_main"]
