"""A study's outputs against its configuration: the fingerprint its units write is the one it checks."""

import json
from dataclasses import replace
from pathlib import Path

from pitchprobe.probe.results import read_result
from pitchprobe.study.config import OTHERS, POOLED, SCORE, Unit, model_variants
from pitchprobe.study.current import check_outputs, study_results, unit_fingerprint
from tests.conftest import copy_study


def test_the_fingerprint_a_study_writes_is_the_one_it_checks(small_study):
    cfg = small_study
    (model,) = model_variants(cfg)
    pool = json.loads((Path(cfg.run_dir) / "probes" / "fbank" / "pooled.json").read_text())
    seen = set()
    for code in cfg.langs:
        for check in check_outputs(cfg, Unit(SCORE, model, code)):
            pooled = pool["languages"] if check.name in (POOLED, OTHERS) else None
            want = unit_fingerprint(cfg, model, check.name, code, pooled_languages=pooled)
            assert read_result(check.path).fingerprint == want
            assert check.current and check.differences == ()
            seen.add(check.name)
    assert seen == {"zz_contour", "zz_level", POOLED, OTHERS}
    found = study_results(cfg)
    assert len(found.current) == 2 * 3 + 1 and not found.stale and not found.missing and not found.leftovers


def test_a_changed_configuration_makes_every_result_stale_with_the_fields_named(small_study):
    cfg = replace(small_study, alpha=1.0)  # the configuration changed; the results on disk did not
    found = study_results(cfg)
    assert not found.current and len(found.stale) == 7
    assert all("alpha: 'dev-grid' -> 1.0" in c.differences for c in found.stale)
    assert not any(c.refreshed for c in found.stale)


def test_a_change_of_the_pooled_languages_is_stale_and_refreshed_not_missing(small_study, tmp_path):
    cfg = copy_study(small_study, tmp_path / "run")
    (model,) = model_variants(cfg)
    path = Path(cfg.run_dir) / "transfer" / "fbank" / "pooled" / "zz_level.json"
    d = json.loads(path.read_text())
    d["fingerprint"]["pooled_languages"] = ["zz_contour", "zz_intonation", "zz_level"]
    path.write_text(json.dumps(d))
    (check,) = [c for c in check_outputs(cfg, Unit(SCORE, model, "zz_level")) if c.name == POOLED]
    assert check.stale and check.refreshed and not check.current
    assert check.differences == ("pooled_languages: removed zz_intonation",)
    found = study_results(cfg)
    assert [(c.unit.code, c.name) for c in found.stale] == [("zz_level", POOLED)] and len(found.current) == 6
