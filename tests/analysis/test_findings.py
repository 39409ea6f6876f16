"""The findings paragraph and the group tests state the numbers of the tidy table, and no test for groups of one."""

import pandas as pd
import pytest

from pitchprobe.analysis.aggregate import best_layers, transfer_table
from pitchprobe.analysis.compare import group_test, group_tests_table
from pitchprobe.analysis.findings import MOVEMENT, findings_text, group_note, model_findings
from tests.analysis.tidy import LANGS, tidy


def _tests(df, column="tone_class"):
    best = best_layers(df[df.kind == "within"])
    out = {}
    for tag, b in best.groupby("model_tag"):
        out[tag] = group_test(b.value, b[column], n_perm=200, seed=0)
    return {"tone_class": out, "lang_group": {}, "vs_reference": {}}


def test_model_findings_name_the_best_layer_and_value_of_the_tidy_table():
    df = tidy()
    models = model_findings(df, target="f0_voiced", metric="r").set_index("model_tag")
    best = best_layers(df[df.kind == "within"]).query("model_tag == 'hubert'")
    assert set(best.layer) == {2} and models.loc["hubert", "layer"] == 2
    assert models.loc["hubert", "mean"] == pytest.approx(best.value.mean()) == pytest.approx(0.84)
    assert models.loc["hubert", "n_chosen"] == models.loc["hubert", "n_languages"] == len(LANGS)
    assert models.loc["hubert", "elsewhere"] == []
    assert models.loc["hubert-random", "layer"] == 0 and models.loc["hubert-random", "mean"] == pytest.approx(0.48)
    assert models.loc["fbank", "layers"] == 1 and list(models.index)[-1] == "hubert-random"  # controls last


def test_findings_text_states_best_layers_controls_fbank_tones_and_transfer():
    df = tidy()
    transfer = {"r": transfer_table(df), "movement": transfer_table(df, target=MOVEMENT[0], metric=MOVEMENT[1])}
    text = findings_text(df, _tests(df), transfer, target="f0_voiced", metric="r")
    assert "hubert: best layer 2 (lowest dev MSE in 5 of 5 languages); mean r 0.84 (0.80–0.88, n = 5)" in text
    assert "against 0.48 for its random-init control (difference +0.36)" in text
    assert "Against fbank (0.62): hubert +0.22, hubert-random -0.14." in text
    assert "fbank: one layer; mean r 0.62 (0.60–0.64, n = 5)" in text
    assert "Movement (within-utterance r of st_utt)." in text and "mean r_within 0.74" in text
    assert "hubert: non_tonal 0.87 (n = 2), tonal 0.82 (n = 3); permutation F = " in text
    assert "zero-shot (all other languages) 0.64 against within-language 0.84 (difference -0.20, 5 of 5" in text
    assert "movement, hubert: zero-shot (all other languages) 0.54 against within-language 0.74" in text
    assert text.index("Best layers") < text.index("Tone classes") < text.index("Transfer") < text.index("Caveats")


def test_a_group_of_one_language_gets_no_test_and_the_text_says_so():
    df = tidy(codes=("aa_tone", "bb_tone", "dd_flat"))  # tonal 2, non-tonal 1
    tests = _tests(df)
    t = tests["tone_class"]["hubert"]
    assert t["p_value"] is None and t["statistic"] is None and t["left_out"] == ["non_tonal"]
    assert t["groups"]["non_tonal"]["n"] == 1  # still named, with its mean
    text = findings_text(df, tests, {}, target="f0_voiced", metric="r")
    assert "nothing conclusive (no test: fewer than 2 groups of at least 2 languages (non_tonal: n=1))" in text
    assert "p = " not in text
    tab = group_tests_table(tests)
    assert tab.p.isna().all() and tab.F.isna().all() and tab.note.str.startswith("no test").all()
    assert tab.p.dtype == float  # blank cells, never "None"


def test_a_group_of_one_is_left_out_of_a_test_of_the_others():
    values = pd.Series([0.1, 0.2, 0.8, 0.9, 0.5])
    groups = pd.Series(["a", "a", "b", "b", "c"])
    t = group_test(values, groups, n_perm=200, seed=0)
    assert t["left_out"] == ["c"] and t["p_value"] is not None and t["groups"]["c"]["n"] == 1
    alone = group_test(values[:4], groups[:4], n_perm=200, seed=0)
    assert (t["statistic"], t["p_value"]) == (alone["statistic"], alone["p_value"])  # c played no part
    assert group_note(t) == "left out (fewer than 2 languages): c"
