"""The one fingerprint builder: its fields, what it leaves out where it must, and the differences it names."""

from pitchprobe.labels.pitch import PitchParams
from pitchprobe.models.identity import ModelIdentity
from pitchprobe.probe.fingerprint import ProbeSettings, changed_fields, fingerprint_differences


def _settings(**kw) -> ProbeSettings:
    return ProbeSettings(model=ModelIdentity.resolve("fbank"), labels=PitchParams(), **kw)


def test_a_score_fingerprint_holds_every_setting_and_a_fit_scores_nothing():
    s = _settings(
        alpha=1,
        gender="female",
        postprocess=True,
        labels_timing={"placement": "pyaapt-window", "offset_samples": -24},
        model_offset=16.0,
    )
    score = s.fingerprint(train_language="zz_level", test_language="zz_contour")
    assert score["alpha"] == 1.0 and score["gender"] == "female" and score["postprocess"] is True
    assert score["labels"] == PitchParams().as_json() and score["model"] == ModelIdentity.resolve("fbank").as_dict()
    assert (score["train_language"], score["test_language"]) == ("zz_level", "zz_contour")
    assert score["fit_splits"] == ["train", "dev"] and score["score_splits"] == ["test"]
    assert score["labels_timing"] == {"placement": "pyaapt-window", "offset_samples": -24}
    assert score["model_offset_samples"] == 16.0
    assert "pooled_languages" not in score and "sums_dtype" not in score and "dtype" not in score
    fit = s.fingerprint(train_language="zz_level", test_language=None)
    assert fit["score_splits"] == [] and fit["postprocess"] is False and fit["test_language"] is None


def test_defaults_are_left_out_so_older_results_stay_valid():
    fp = _settings().fingerprint(train_language="a", test_language="a")
    assert fp["alpha"] == "dev-grid"
    assert not {"dtype", "model_offset_samples", "sums_dtype"} & set(fp)
    assert fp["labels_timing"] == {"placement": "fixed", "offset_samples": 0}, "where the labels sit: always"
    assert _settings(dtype="bfloat16").fingerprint(train_language="a", test_language="a")["dtype"] == "bfloat16"


def test_pooled_languages_and_their_sums_dtype_are_recorded_for_pooled_probes_only():
    s = _settings(sums_dtype="float32")
    pooled = s.fingerprint(train_language="pooled", test_language="b", pooled_languages=["b", "a"])
    assert pooled["pooled_languages"] == ["a", "b"] and pooled["sums_dtype"] == "float32"
    assert "sums_dtype" not in s.fingerprint(train_language="a", test_language="b")


def test_differences_name_each_field_and_a_changed_pool_in_one_line():
    s = _settings()
    old = s.fingerprint(train_language="pooled", test_language="a", pooled_languages=["a", "b", "c"])
    new = _settings(alpha=1).fingerprint(train_language="pooled", test_language="a", pooled_languages=["a", "b", "d"])
    diff = fingerprint_differences(old, new)
    assert diff == ["alpha: 'dev-grid' -> 1.0", "pooled_languages: added d; removed c"]
    assert changed_fields(diff) == {"alpha", "pooled_languages"}
    labels = fingerprint_differences(old, {**old, "labels": {**old["labels"], "f0_min_hz": 71.0}})
    assert labels == [f"labels.f0_min_hz: {PitchParams().f0_min_hz!r} -> 71.0"]
    assert fingerprint_differences(None, new) == ["fingerprint: none stored"]
    assert fingerprint_differences(new, new) == []
