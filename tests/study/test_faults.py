"""A study survives its run directory's leftovers, a second study beside it, and a language that fails."""

import json
import shutil
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import pandas as pd
import pytest

from pitchprobe.analysis.report import make_report
from pitchprobe.analysis.reported import load_results
from pitchprobe.core.errors import PitchProbeError
from pitchprobe.data.synth import write_corpus
from pitchprobe.probe.results import read_result
from pitchprobe.study.run import StudyConfig, run_study
from tests.study.conftest import run_reported

pytestmark = pytest.mark.slow  # every test here runs a study

REPO = Path(__file__).resolve().parents[2]


def test_temporary_result_files_are_never_read(study, tmp_path):
    cfg, _ = study
    run = tmp_path / "run"
    shutil.copytree(cfg.run_dir, run)
    before = len(load_results(run))
    result = run / "results" / "fbank" / "zz_level.json"
    (result.parent / f".{result.name}.a1b2c3.tmp.json").write_text(result.read_text()[:100])  # half-written
    (result.parent / f".{result.name}.d4e5f6.tmp.json").write_text(result.read_text())  # complete, not renamed
    assert len(load_results(run)) == before
    make_report(run, bootstrap=50, permutations=50)
    rows = pd.read_parquet(run / "tables" / "results.parquet")
    original = pd.read_parquet(Path(cfg.run_dir) / "tables" / "results.parquet")
    assert len(rows) == len(original)
    summary = run_reported(StudyConfig(**{**asdict(cfg), "run_dir": str(run)}), progress=False)
    assert not summary.failed and not summary.done
    assert not list(run.rglob(".*.tmp*")), "a study cleans stale temporaries of its run directory"


def test_two_studies_on_one_run_directory_compute_each_unit_once(study, tmp_path):
    cfg, _ = study
    cfg2 = StudyConfig(**{**asdict(cfg), "run_dir": str(tmp_path / "run"), "models": ["fbank"], "train_langs": []})
    code = (
        "import json, sys\nfrom pitchprobe.study.run import StudyConfig, run_study\n"
        "s = run_study(StudyConfig(**json.loads(sys.argv[1])), progress=False)\n"
        "print(len(s.done), len(s.skipped), len(s.failed))\n"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, json.dumps(asdict(cfg2))],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    counts = sorted(tuple(map(int, out.split())) for out, _ in outs)
    assert counts == [(0, 7, 0), (7, 0, 0)], "the second study waited, then found every unit done"
    assert any("waiting for" in err and "the study in" in err for _, err in outs)


def test_a_language_that_cannot_be_gathered_fails_only_its_units(study, tmp_path):
    cfg, _ = study
    corpus = write_corpus(
        tmp_path / "src", utterances_per_split={"train": 4, "dev": 2, "test": 4}, duration_s=(1.2, 1.5)
    )
    archive = corpus / "data" / "zz_intonation" / "audio" / "test.tar.gz"
    archive.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])  # a truncated download
    cfg2 = StudyConfig(
        **{
            **asdict(cfg),
            "run_dir": str(tmp_path / "run"),
            "data_dir": str(tmp_path / "data"),
            "source": str(corpus),
            "languages_table": str(corpus / "languages.tsv"),
            "models": ["fbank"],
            "train_langs": ["zz_intonation"],
        }
    )
    summary = run_reported(cfg2, progress=False)
    ok = ["fit--fbank--zz_contour", "fit--fbank--zz_level", "pool--fbank--pooled"]
    assert sorted(summary.done) == [*ok, "score--fbank--zz_contour", "score--fbank--zz_level"]
    assert sorted(u for u, _ in summary.failed) == ["fit--fbank--zz_intonation", "score--fbank--zz_intonation"]
    pool = json.loads((tmp_path / "run" / "probes" / "fbank" / "pooled.json").read_text())
    assert pool["languages"] == ["zz_contour", "zz_level"] and list(pool["excluded"]) == ["zz_intonation"]
    score = json.loads((tmp_path / "run" / "units" / "score--fbank--zz_level.json").read_text())
    assert "zz_intonation" in score["reason"]  # done, and it says which transfer it could not make
    assert list(summary.failed_languages) == ["zz_intonation"]
    assert "test" in summary.failed_languages["zz_intonation"]
    status = json.loads((tmp_path / "run" / "units" / "fit--fbank--zz_intonation.json").read_text())
    assert status["status"] == "failed" and "zz_intonation" in status["reason"]
    assert (tmp_path / "run" / "report.html").is_file()
    with pytest.raises(PitchProbeError, match="--fail-fast: zz_intonation"):
        run_study(StudyConfig(**{**asdict(cfg2), "run_dir": str(tmp_path / "run2"), "fail_fast": True}), progress=False)
    # the archive is mended: the language is gathered, fitted and pooled now, and no other fit is redone
    write_corpus(tmp_path / "src", utterances_per_split={"train": 4, "dev": 2, "test": 4}, duration_s=(1.2, 1.5))
    again = run_reported(cfg2, progress=False)
    assert not again.failed and "fit--fbank--zz_contour" in again.skipped and "fit--fbank--zz_level" in again.skipped
    assert {"fit--fbank--zz_intonation", "pool--fbank--pooled", "score--fbank--zz_level"} <= set(again.done)
    pool = json.loads((tmp_path / "run" / "probes" / "fbank" / "pooled.json").read_text())
    assert pool["languages"] == sorted(cfg2.langs) and pool["excluded"] == {}
    assert not list((tmp_path / "run" / "sums").rglob("*.npz")), "sums go once the pool has every language"


def test_an_unwritable_run_directory_is_refused_before_any_work(study, tmp_path):
    cfg, _ = study
    (tmp_path / "file").write_text("not a folder")
    bad = StudyConfig(**{**asdict(cfg), "run_dir": str(tmp_path / "file" / "run")})
    with pytest.raises(PitchProbeError, match="cannot write in"):
        run_reported(bad, progress=False)


def test_a_failed_recomputation_leaves_no_old_number_in_the_tables_or_the_report(small_study, tmp_path):
    """Rerun with --alpha 1 --overwrite, one language's test audio broken in between: its score fails, and its old
    results (dev-grid alpha) stay on disk; no table holds them, and the report names them under "Not reported"."""
    from dataclasses import replace

    from pitchprobe.data.manifest import read_manifest

    # two languages, fbank, a transfer from zz_level and the pooled probes; its own data root, to break
    cfg = replace(small_study, run_dir=str(tmp_path / "run"), data_dir=str(tmp_path / "data"))
    first = run_reported(cfg, progress=False)
    assert not first.failed
    for rec in read_manifest(Path(cfg.data_dir), "zz_contour", splits=("test",)):
        assert Path(rec["path"]).is_relative_to(cfg.data_dir)  # this test's copy, not the shared corpus
        Path(rec["path"]).write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt not audio at all" * 4)
    again = run_reported(replace(cfg, alpha=1.0, overwrite=True), progress=False)
    assert [u for u, _ in again.failed] == ["score--fbank--zz_contour"]
    assert any(why.startswith("alpha: 'dev-grid' -> 1.0") for why in again.recomputed)
    run = Path(cfg.run_dir)
    old = read_result(run / "results" / "fbank" / "zz_contour.json")
    assert old.fingerprint["alpha"] == "dev-grid", "the failed unit left its old result on disk"
    df = pd.read_csv(run / "tables" / "results.csv")
    assert "zz_contour" not in set(df.code), "no result scored on zz_contour is current"
    assert set(df.alpha.dropna()) == {1.0} and set(df.code) == {"zz_level"}
    transfer = run / "tables" / "transfer.csv"
    assert not transfer.is_file() or "zz_contour" not in transfer.read_text()
    md, html = (run / "report.md").read_text(), (run / "report.html").read_text()
    section = md.split("## Not reported", 1)[1].split("\n## ", 1)[0]
    for probe in ("within-language", "pooled probe", "leave-one-out probe", "transfer from zz_level"):
        assert f"| fbank | {probe} | zz_contour | 1 | alpha: 'dev-grid' -> 1.0 |" in section
    assert "Not reported" in html and "alpha: &#x27;dev-grid&#x27; -&gt; 1.0" in html
    assert "here: 1.0" in md  # the Method text describes the results it reports
