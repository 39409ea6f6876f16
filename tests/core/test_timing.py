"""The one timing rule: when a measured offset moves frames, and what of a label timing decides where labels sit."""

import numpy as np

from pitchprobe.core.timing import (
    FIXED,
    PYAAPT_WINDOW,
    TIMING_TOLERANCE_MS,
    applied_offset,
    label_timing_identity,
    ms_to_samples,
    samples_to_ms,
)

FS = 16000


def test_applied_offset_is_zero_within_tolerance_and_rounded_beyond():
    limit = TIMING_TOLERANCE_MS * FS / 1000  # 16 samples
    assert applied_offset(limit - 0.1) == applied_offset(-(limit - 0.1)) == applied_offset(0.0) == 0
    assert applied_offset(limit + 0.1) == 16 and applied_offset(-(limit + 0.6)) == -17
    assert applied_offset(-77.8) == -78 and isinstance(applied_offset(-77.8), int)
    assert applied_offset(10.0, tolerance_ms=0.5) == 10
    assert applied_offset(float("nan")) == 0, "nothing measured moves nothing"


def test_ms_and_samples_convert_both_ways():
    assert ms_to_samples(20.0) == 320 and samples_to_ms(320) == 20.0
    assert samples_to_ms(ms_to_samples(1.25, 8000), 8000) == 1.25


def test_label_timing_identity_reads_old_and_new_timings():
    assert label_timing_identity(None) == {"placement": FIXED, "offset_samples": 0}
    old = {"tracker": "praat", "applied_offset_samples": -24}  # a timing stored before placements existed
    assert label_timing_identity(old) == {"placement": FIXED, "offset_samples": -24}
    new = {"tracker": "pyaapt", "placement": PYAAPT_WINDOW, "applied_offset_samples": np.int64(0)}
    assert label_timing_identity(new) == {"placement": PYAAPT_WINDOW, "offset_samples": 0}
