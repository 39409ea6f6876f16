"""The study's flags come from its configuration, grouped by stage, with examples, in --help."""

import subprocess
import sys
from dataclasses import fields

from pitchprobe.study.config import COMMON, FLAG_GROUPS, StudyConfig


def test_every_study_flag_belongs_to_exactly_one_stage():
    names = [n for group in FLAG_GROUPS.values() for n in group]
    assert len(names) == len(set(names))
    own = {f.name for f in fields(StudyConfig) if f.metadata.get("cli") != COMMON}
    assert set(names) == own


def test_study_help_lists_the_flags_by_stage_with_examples():
    out = subprocess.run([sys.executable, "-m", "pitchprobe", "study", "--help"], capture_output=True, text=True)
    assert out.returncode == 0
    text = out.stdout
    positions = [text.index(f"\n{group}:\n") for group in FLAG_GROUPS]
    assert positions == sorted(positions), "stages in pipeline order"
    for group, names in FLAG_GROUPS.items():
        section = text[text.index(f"\n{group}:\n") :].split("\n\n")[0]
        for f in fields(StudyConfig):
            if f.name in names:
                assert f.metadata["flag"] in section, (group, f.metadata["flag"])
    assert "examples:" in text and "--dry-run" in text.split("examples:")[1]
