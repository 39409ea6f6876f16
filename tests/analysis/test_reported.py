"""The report reads only current results: a stale one is in no table, and is named with what differs."""

import json
from pathlib import Path

from pitchprobe.analysis.aggregate import tidy_table
from pitchprobe.analysis.reported import UNCHECKED, not_reported_table, not_reported_text, reported_results
from tests.conftest import copy_study


def _make_stale(cfg, rel: str, **fields) -> Path:
    path = Path(cfg.run_dir) / rel
    d = json.loads(path.read_text())
    d["fingerprint"].update(fields)
    path.write_text(json.dumps(d))
    return path


def test_a_stale_result_is_left_out_of_the_tidy_table_and_named(small_study, tmp_path):
    cfg = copy_study(small_study, tmp_path / "run")
    before = tidy_table(cfg.run_dir, n_boot=0)
    assert set(before[before.kind == "within"].code) == {"zz_contour", "zz_level"}
    _make_stale(cfg, "results/fbank/zz_contour.json", alpha=1.0)  # as if made under --alpha 1
    _make_stale(cfg, "transfer/fbank/others/zz_contour.json", alpha=1.0)
    df = tidy_table(cfg.run_dir, n_boot=0)
    gone = df[(df.code == "zz_contour") & df.train_language.isin(["zz_contour", "others"])]
    assert gone.empty and set(df[df.kind == "within"].code) == {"zz_level"}
    assert len(df) == len(before) * 5 // 7  # 5 of the 7 results, each with as many rows
    reported = reported_results(cfg.run_dir)
    table = not_reported_table(reported)
    assert table.to_dict("records") == [
        {"model": "fbank", "probe": probe, "languages": "zz_contour", "n": 1, "why": "alpha: 1.0 -> 'dev-grid'"}
        for probe in ("leave-one-out probe", "within-language")
    ]
    assert "stored -> now" in not_reported_text(reported)


def test_an_unreadable_result_is_named_and_languages_stale_alike_share_a_row(small_study, tmp_path):
    cfg = copy_study(small_study, tmp_path / "run")
    for code in cfg.langs:
        _make_stale(cfg, f"transfer/fbank/pooled/{code}.json", gender="male")
    (Path(cfg.run_dir) / "results" / "fbank" / "zz_level.json").write_text("{not json")
    table = not_reported_table(reported_results(cfg.run_dir))
    rows = {r["probe"]: r for r in table.to_dict("records")}
    assert rows["pooled probe"]["languages"] == "zz_contour, zz_level" and rows["pooled probe"]["n"] == 2
    assert rows["pooled probe"]["why"] == "gender: 'male' -> 'all'"
    assert rows["within-language"]["why"].startswith("unreadable: the result is not a readable pitchprobe result")


def test_bare_results_are_all_read_and_the_report_says_they_were_not_checked(small_study, tmp_path):
    cfg = copy_study(small_study, tmp_path / "run")
    (Path(cfg.run_dir) / "config.json").unlink()
    _make_stale(cfg, "results/fbank/zz_contour.json", alpha=1.0)
    reported = reported_results(cfg.run_dir)
    assert reported.config is None and len(reported.results) == 7
    assert not_reported_text(reported) == UNCHECKED
