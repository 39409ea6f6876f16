"""The one-pass study: forward passes per utterance, wall time and peak memory of a full transfer matrix.

One synthetic corpus of four pseudo-languages (train/dev/test 3:1:1) is gathered and labelled. Then, each in
a fresh child process, ``run_study`` runs on it with one model:

- (i)  the four languages without transfer;
- (ii) the same with the full 4 x 4 ``--train-lang`` matrix and ``--pooled``;
- (iii) (i) and (ii) on a corpus with 4x the audio (for the memory ratio, and the wall ratio at more audio).

The backend is wrapped to count the waveforms it is given: forward passes per utterance = waveforms /
utterances in the manifests. Wall time is the study's (model load apart); ``units`` is the time of its units
(the report, which makes more tables and figures for a matrix, apart). Peak RSS is the child's
``ru_maxrss``. Finally a dry run of the scheduler over all 102 FLEURS languages x 3 models x the full matrix,
without audio, prints its unit and job counts and a cost estimate from the rates measured here.

Targets: one forward per utterance; wall (ii) / (i) <= 1.10; peak RSS (iii) / (ii) <= 1.2.

    python benchmarks/bench_study.py [--quick] [--seconds S] [--model hubert|fbank] [--work-dir DIR]

``--seconds``: audio per language at 1x (default 240 for HuBERT, 600 for fbank; ``--quick`` a quarter).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from _common import hubert_dir, load_backend, peak_rss_mib, split_counts, work_dir

LANGS = 4


def languages():
    from pitchprobe.data.synth import DEMO_LANGUAGES, PseudoLanguage

    extra = PseudoLanguage("zz_mixed", "Synthetic mixed", "synthetic_mixed", "non_tonal", "intonation")
    return [*DEMO_LANGUAGES, extra][:LANGS]


def build(root: Path, seconds: float) -> dict:
    """Corpus, gather and labels (all cores) for ``seconds`` of audio per language; audio s and label CPU s."""
    from pitchprobe.data.fleurs import LocalSource, gather
    from pitchprobe.data.languages import load_table
    from pitchprobe.data.manifest import read_manifest
    from pitchprobe.data.synth import write_corpus
    from pitchprobe.labels.make import make_labels

    shutil.rmtree(root, ignore_errors=True)
    corpus = write_corpus(root / "corpus", languages=languages(), utterances_per_split=split_counts(seconds))
    table = load_table(corpus / "languages.tsv")
    gather(list(table.values()), root=root / "data", source=LocalSource(corpus))
    t0, cpu0 = time.perf_counter(), os.times()
    for code in table:
        s = make_labels(code, root=root / "data", progress=False)
        assert not s.failed, s.failed
    cpu1 = os.times()
    cpu = (cpu1.children_user + cpu1.children_system) - (cpu0.children_user + cpu0.children_system)
    audio = sum(r["duration"] for code in table for r in read_manifest(root / "data", code))
    utts = sum(len(read_manifest(root / "data", code)) for code in table)
    return {"audio_s": audio, "utterances": utts, "label_wall_s": time.perf_counter() - t0, "label_cpu_s": cpu}


class Counting:
    """The backend, counting the waveforms (and seconds of audio) it is given and the time spent in forward."""

    def __init__(self, backend):
        self._b, self.waves, self.seconds, self.forward_s = backend, 0, 0.0, 0.0

    def __getattr__(self, name):
        return getattr(self._b, name)

    def forward(self, wavs):
        t0 = time.perf_counter()
        out = self._b.forward(wavs)
        self.forward_s += time.perf_counter() - t0
        self.waves += len(wavs)
        self.seconds += sum(len(w) for w in wavs) / 16000
        return out


def child(root: Path, model: str, matrix: bool) -> None:
    """In a fresh process: one study; print a JSON line of counts, times (s) and peak RSS (MiB)."""
    from pitchprobe.study.run import StudyConfig, run_study

    codes = [lang.code for lang in sorted(languages(), key=lambda x: x.code)]
    counting = Counting(load_backend(model, root.parent))
    cfg = StudyConfig(
        langs=codes,
        models=["fbank" if model == "fbank" else f"random:{hubert_dir(root.parent)}"],
        run_dir=str(root / "run"),
        data_dir=str(root / "data"),
        languages_table=str(root / "corpus" / "languages.tsv"),
        train_langs=codes if matrix else [],
        pooled=matrix,
        device="cpu",
        bootstrap=200,
        permutations=500,
    )
    shutil.rmtree(root / "run", ignore_errors=True)
    t0 = time.perf_counter()
    summary = run_study(cfg, progress=False, loader=lambda ident: counting)
    wall = time.perf_counter() - t0
    assert not summary.failed, summary.failed
    units = {}
    for p in (root / "run" / "units").glob("*.json"):
        s = json.loads(p.read_text())
        units[s["kind"]] = units.get(s["kind"], 0.0) + s["seconds"]
    print(json.dumps({"wall_s": wall, "units": units, "waves": counting.waves, "forward_s": counting.forward_s,
                      "forward_audio_s": counting.seconds, "peak_mib": peak_rss_mib()}))  # fmt: skip


def run_child(root: Path, model: str, matrix: bool) -> dict:
    cmd = [sys.executable, __file__, "--child", str(root), "--model", model] + (["--matrix"] if matrix else [])
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(proc.stderr[-3000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def dry_run(forward_rate: float, fit_s: float, label_cpu: float) -> None:
    from pitchprobe.data.languages import load_table, resolve
    from pitchprobe.study.config import StudyConfig
    from pitchprobe.study.plan import plan_study

    codes = [lang.code for lang in resolve(["all"], load_table(None))]
    cfg = StudyConfig(langs=codes, models=["hubert", "wavlm", "wav2vec2"], train_langs=codes, pooled=True)
    cfg.langs_per_job = 4
    plan = plan_study(cfg)
    print("\ndry run: all FLEURS languages x 3 base models x the full matrix, --pooled, --langs-per-job 4")
    print("  here (2 CPU cores, rates measured above):")
    print("  " + plan.text(cores=os.cpu_count(), forward_rate=forward_rate, fit_seconds=fit_s,
                            label_cpu_per_s=label_cpu).replace("\n", "\n  "))  # fmt: skip
    est = plan.estimate(cores=16, forward_rate=1000.0, fit_seconds=fit_s, label_cpu_per_s=label_cpu)
    print(
        f"  one 16-core node with one GPU at 1000x real time per base model (issue 10's H100 target, assumed, not "
        f"measured here): labels {est['labels_h']:.1f} h, forwards {est['forward_h']:.1f} h, fits {est['fits_h']:.1f} h"
        f" -> {est['total_h']:.1f} h"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a quarter of the audio")
    ap.add_argument("--seconds", type=float, help="audio per language at 1x, s")
    ap.add_argument("--model", choices=("hubert", "fbank"), default="hubert")
    ap.add_argument("--work-dir", help="keep the corpora here (default: a temporary folder)")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--matrix", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(Path(args.child), args.model, args.matrix)
        return
    full = 240.0 if args.model == "hubert" else 600.0
    seconds = args.seconds or (full / 4 if args.quick else full)
    with work_dir(args.work_dir) as work:
        built = {s: build(work / f"x{s}", seconds * s) for s in (1, 4)}
        plain = run_child(work / "x1", args.model, matrix=False)
        matrix = run_child(work / "x1", args.model, matrix=True)
        big_plain = run_child(work / "x4", args.model, matrix=False)
        big = run_child(work / "x4", args.model, matrix=True)
    print(f"model {args.model}, {LANGS} languages, load average {os.getloadavg()[0]:.2f}, {os.cpu_count()} cores")
    head = ("study", "audio s", "utts", "forwards", "per utt", "forward s", "fit", "pool", "score", "units s",
            "wall s", "peak MiB")  # fmt: skip
    print(" ".join(f"{h:>9}" for h in head))
    studies = (("(i)", built[1], plain), ("(ii)", built[1], matrix), ("(i) 4x", built[4], big_plain),
               ("(iii) 4x", built[4], big))  # fmt: skip
    for name, b, r in studies:
        u = r["units"]
        print(
            f"{name:>9} {b['audio_s']:9.1f} {b['utterances']:9d} {r['waves']:9d} {r['waves'] / b['utterances']:9.3f} "
            f"{r['forward_s']:9.1f} {u.get('fit', 0):9.1f} {u.get('pool', 0):9.1f} {u.get('score', 0):9.1f} "
            f"{sum(u.values()):9.1f} {r['wall_s']:9.1f} {r['peak_mib']:9.1f}"
        )
    print(f"forward passes per utterance: {matrix['waves'] / built[1]['utterances']:.3f} (target 1)")
    print(
        f"wall (ii) / (i), units: {sum(matrix['units'].values()) / sum(plain['units'].values()):.3f} (target <= 1.10)"
    )
    print(f"wall (ii) / (i), with the report: {matrix['wall_s'] / plain['wall_s']:.3f}")
    ratio4 = sum(big["units"].values()) / sum(big_plain["units"].values())
    print(f"wall (ii) / (i) at 4x the audio, units: {ratio4:.3f} (the matrix's cost is per language, not per second)")
    print(f"peak RSS 4x / 1x: {big['peak_mib'] / matrix['peak_mib']:.3f} (target <= 1.2)")
    fit_s = matrix["units"]["pool"] / (LANGS + 1)
    print(f"one fit (all layers, from the pool unit): {fit_s:.2f} s; the matrix adds {LANGS + 1} of them per model")
    label_cpu = built[4]["label_cpu_s"] / built[4]["audio_s"]
    dry_run(forward_rate=matrix["forward_audio_s"] / matrix["forward_s"], fit_s=fit_s, label_cpu=label_cpu)


if __name__ == "__main__":
    main()
