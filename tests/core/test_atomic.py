"""Atomic writes and the one rule for temporary names."""

import os
import subprocess
import sys

import pytest

from pitchprobe.core.atomic import (
    atomic_path,
    ensure_writable,
    is_temporary,
    remove_temporary,
    visible_files,
    write_json,
)
from pitchprobe.core.errors import PitchProbeError


def test_every_temporary_name_the_writer_makes_is_recognised(tmp_path):
    seen = []
    for name in ("a.json", "part-1.parquet", "x.wav", "noext"):
        with atomic_path(tmp_path / name) as tmp:
            seen.append(tmp.name)
            assert is_temporary(tmp)
            tmp.write_text("x")
        assert not is_temporary(tmp_path / name)
    assert all(n.startswith(".") for n in seen)
    assert not is_temporary(tmp_path / ".extracted")  # a hidden marker is not a temporary file


def test_readers_skip_temporaries_and_hidden_folders(tmp_path):
    write_json(tmp_path / "r" / "a.json", {"ok": 1})
    (tmp_path / "r" / ".a.json.k3j2.tmp.json").write_text('{"half": ')
    (tmp_path / "r" / ".hidden").mkdir()
    (tmp_path / "r" / ".hidden" / "b.json").write_text("{}")
    assert visible_files(tmp_path / "r", "*.json", recursive=True) == [tmp_path / "r" / "a.json"]


def test_a_killed_writer_leaves_only_a_temporary_which_cleanup_removes(tmp_path):
    code = (
        "import os, signal, sys\nfrom pitchprobe.core.atomic import atomic_path\n"
        "with atomic_path(sys.argv[1]) as tmp:\n"
        "    tmp.write_text('{\"half\": ')\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    target = tmp_path / "out" / "result.json"
    proc = subprocess.run([sys.executable, "-c", code, str(target)])
    assert proc.returncode == -9
    assert not target.exists()
    (left,) = list((tmp_path / "out").iterdir())
    assert is_temporary(left)
    assert remove_temporary(tmp_path) == 1 and not list((tmp_path / "out").iterdir())


def test_a_failed_write_leaves_the_old_file(tmp_path):
    write_json(tmp_path / "a.json", {"v": 1})
    with pytest.raises(ValueError), atomic_path(tmp_path / "a.json") as tmp:
        tmp.write_text("new")
        raise ValueError("boom")
    assert (tmp_path / "a.json").read_text().startswith('{\n  "v": 1')
    assert os.listdir(tmp_path) == ["a.json"]


def test_unwritable_places_are_named_before_any_work(tmp_path):
    (tmp_path / "file").write_text("a regular file")
    with pytest.raises(PitchProbeError, match="cannot write in .*file/out"):
        ensure_writable(tmp_path / "file" / "out")
    assert ensure_writable(tmp_path / "new" / "dir").is_dir()
    assert os.listdir(tmp_path / "new" / "dir") == []  # the check leaves nothing behind


def test_cleanup_of_one_target_leaves_other_targets_temporaries(tmp_path):
    (tmp_path / ".a.jsonl.x1.tmp.jsonl").write_text("")
    (tmp_path / ".b.jsonl.y2.tmp.jsonl").write_text("")
    assert remove_temporary(tmp_path, of="a.jsonl") == 1
    assert os.listdir(tmp_path) == [".b.jsonl.y2.tmp.jsonl"]
