"""Label settings of a study: trackers, consensus, and the SUPERB-prosody preset."""

import pytest

from pitchprobe.core.errors import PitchProbeError, UnknownNameError
from pitchprobe.labels.pitch import PitchParams
from pitchprobe.probe.metrics import HIGHER_IS_BETTER
from pitchprobe.study.config import StudyConfig, study_command, units_of


def test_superb_preset_is_pyaapt_71_to_800_hz_with_35_ms_frames_and_log_f0_mse_as_headline():
    cfg = StudyConfig(langs=["zz_level"], preset="superb")
    assert cfg.params == PitchParams(frame_length_ms=35.0, frame_space_ms=20.0, f0_min_hz=71.0, f0_max_hz=800.0)
    assert cfg.params.first_centre_samples() == 280  # pYAAPT's fix(560 / 2): where its frames sit
    assert cfg.headline == ("logf0_voiced", "mse_log") and not HIGHER_IS_BETTER["mse_log"]
    assert StudyConfig(langs=["zz_level"]).headline == ("f0_voiced", "r")
    assert "--preset superb" in study_command(cfg)


def test_the_first_tracker_labels_the_probe_unless_consensus():
    cfg = StudyConfig(langs=["zz_level"], trackers=["praat", "pyaapt"])
    assert cfg.params.tracker == "praat" and cfg.params.sources == ()
    both = StudyConfig(langs=["zz_level"], trackers=["pyaapt", "swift"], labels="consensus")
    assert (both.params.tracker, both.params.sources) == ("consensus", ("pyaapt", "swift"))
    assert both.tracker_params("swift") == PitchParams(tracker="swift")
    assert "--tracker pyaapt,swift" in study_command(both) and "--labels consensus" in study_command(both)


def test_unknown_trackers_and_a_consensus_of_one_are_refused_before_anything_runs():
    with pytest.raises(UnknownNameError, match="crepe"):
        units_of(StudyConfig(langs=["zz_level"], trackers=["pyaapt", "crepe"]))
    with pytest.raises(PitchProbeError, match="at least 2"):
        units_of(StudyConfig(langs=["zz_level"], labels="consensus"))


def test_the_superb_preset_probes_pyaapt_labels_only():
    with pytest.raises(PitchProbeError, match="--preset superb probes pyaapt"):
        units_of(StudyConfig(langs=["zz_level"], preset="superb", trackers=["praat", "pyaapt"]))
    assert units_of(StudyConfig(langs=["zz_level"], preset="superb", trackers=["pyaapt", "praat"]))
