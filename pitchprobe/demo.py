"""The offline demo: a synthetic FLEURS-layout corpus with known F0, end to end.

1. :func:`pitchprobe.data.synth.write_corpus` writes three pseudo-languages (level
   tones, contour tones, intonation only), speakers in low and high registers,
   voiced and unvoiced stretches, in the FLEURS repository layout.
2. ``gather`` reads it through ``--source``, ``labels`` runs pYAAPT (and Praat and
   SwiftF0 when ``pitchprobe[trackers]`` is installed), and the labels are compared with the true F0.
3. A small study (:mod:`pitchprobe.study.run`) probes every language with S3PRL
   ``fbank`` and a random-init HuBERT-base (transformers ``HubertConfig()``:
   no download), adds transfer from ``zz_intonation`` and the pooled and
   leave-one-language-out probes, compares the trackers, and writes the tables,
   figures and ``study/report.html``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

from pitchprobe.core.layout import data_dir as default_data_dir


def installed_trackers() -> list[str]:
    """pYAAPT, then every other tracker whose package is installed."""
    from pitchprobe.labels.trackers import DEFAULT_TRACKER, TRACKERS, TrackerMissingError, require

    out = [DEFAULT_TRACKER]
    for name in TRACKERS:
        try:
            require(name)
        except TrackerMissingError:
            continue
        out += [name] if name != DEFAULT_TRACKER else []
    return out


def label_accuracy(*, root: Path, corpus: Path, code: str, split: str = "test", tracker: str = "pyaapt") -> dict:
    """Compare stored labels of ``tracker`` with the synthetic truth (taken where the labels' frames sit).

    Returns
    -------
    dict
        ``frames``; ``voicing_agreement`` (fraction of frames where both agree
        on voiced/unvoiced); ``median_abs_rel_error`` and ``gross_error_rate``
        (fraction off by more than 20 %) over frames both call voiced.
    """
    from pitchprobe.data.synth import true_f0_at
    from pitchprobe.labels.store import read_labels

    agree = total = 0
    rel = []
    for rec in read_labels(root, code, split, tracker=tracker).values():
        if rec.status != "ok":
            continue
        truth = np.load(corpus / "truth" / code / split / f"{rec.id}.npy")
        centres = rec.first_centre_samples + rec.hop_samples * np.arange(rec.f0_hz.size)
        t = true_f0_at(truth, centres)
        agree += int(((t > 0) == (rec.f0_hz > 0)).sum())
        total += t.size
        both = (t > 0) & (rec.f0_hz > 0)
        rel.append(np.abs(rec.f0_hz[both] - t[both]) / t[both])
    rel = np.concatenate(rel) if rel else np.array([])
    return {
        "frames": total,
        "voicing_agreement": agree / total if total else None,
        "median_abs_rel_error": float(np.median(rel)) if rel.size else None,
        "gross_error_rate": float((rel > 0.2).mean()) if rel.size else None,
    }


def run_demo(
    *,
    data_dir: str | None = None,
    seed: int = 0,
    device: str = "auto",
    progress: bool = True,
    open_report: bool = False,
) -> dict:
    """Run the whole demo; print tables and where the results are. Returns ``{(code, model): result}``."""
    from transformers import HubertConfig

    from pitchprobe.analysis.report import make_report
    from pitchprobe.analysis.reported import reported_results
    from pitchprobe.data.fleurs import LocalSource, gather
    from pitchprobe.data.languages import load_table
    from pitchprobe.data.synth import write_corpus
    from pitchprobe.labels.make import make_labels
    from pitchprobe.labels.pitch import PitchParams
    from pitchprobe.labels.trackers import INSTALL_HINT
    from pitchprobe.probe.console import summary_text

    t0 = time.perf_counter()
    root = Path(data_dir).expanduser().resolve() if data_dir else default_data_dir() / "demo"
    corpus = root / "fleurs-synth"
    print(f"pitchprobe demo -> {root}")
    write_corpus(corpus, seed=seed)
    table = load_table(corpus / "languages.tsv")
    langs = sorted(table.values(), key=lambda lang: lang.lang_id)
    print(f"1. synthetic corpus in the FLEURS layout: {corpus} ({', '.join(lang.code for lang in langs)})")
    for s in gather(langs, root=root, source=LocalSource(corpus)):
        print(f"   gathered {s.code}: {s.kept}")
    trackers = installed_trackers()
    print(f"2. F0 labels by {', '.join(trackers)} (frames every 20 ms), compared with the true F0 on the test split:")
    if len(trackers) == 1:
        print(f"   (other trackers: {INSTALL_HINT})")
    for lang in langs:
        for tracker in trackers:
            s = make_labels(lang.code, root=root, params=PitchParams(tracker=tracker), progress=progress)
            acc = label_accuracy(root=root, corpus=corpus, code=lang.code, tracker=tracker)
            print(
                f"   {lang.code:<14} {tracker:<12} {s.total} utterances, {len(s.failed)} failed | voicing agreement "
                f"{acc['voicing_agreement']:.1%}, median |error| {acc['median_abs_rel_error']:.2%}, "
                f"gross errors (>20 %) {acc['gross_error_rate']:.1%}"
            )
    from pitchprobe.study.run import StudyConfig, run_study

    hubert_dir = root / "models" / "hubert-base-config"
    HubertConfig().save_pretrained(hubert_dir)  # config only: the architecture of hubert-base, no download
    cfg = StudyConfig(
        langs=[lang.code for lang in langs],
        models=["fbank", f"random:{hubert_dir}"],
        run_dir=str(root / "study"),
        data_dir=str(root),
        train_langs=["zz_intonation"],  # the "English" of the demo: intonation only, no lexical tone
        pooled=True,  # and the probes fitted on every language, and on every other language
        trackers=trackers,  # pYAAPT's labels are probed; the others are compared with them
        languages_table=str(corpus / "languages.tsv"),
        source=str(corpus),
        device=device,
        seed=seed,
        bootstrap=500,
        permutations=2000,
        overwrite=True,  # the demo's own folder: results of an older pitchprobe there are recomputed
    )
    print("3. study: fbank and a random-init HuBERT-base on every language, transfer from zz_intonation, pooled")
    summary = run_study(cfg, progress=progress)
    print(summary.text())
    report = make_report(summary.run_dir, summary=summary)
    results = {}
    for res in reported_results(summary.run_dir).within:  # those of this configuration
        print(summary_text(res))
        results[(res.code, res.tag)] = res
    print(f"\ndone in {time.perf_counter() - t0:.0f} s.")
    print(f"Report (open it in a browser): {report}  (Markdown twin: {Path(report).with_suffix('.md')})")
    print(f"Results, tables and figures: {root / 'study'}")
    print("Rerun any stage yourself, e.g.:")
    python = _shown_path(Path(sys.executable))  # this environment's Python: plain `python` may lack pitchprobe
    print(
        f"  {python} linear_regress.py zz_level --model fbank --data-dir {root} --languages {corpus / 'languages.tsv'}"
    )
    if open_report:
        import webbrowser

        webbrowser.open(Path(report).as_uri())
    return results


def _shown_path(path: Path) -> str:
    """``path`` relative to the working directory where it lies under it (``.venv/bin/python``), else absolute."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)
