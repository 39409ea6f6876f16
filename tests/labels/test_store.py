"""Label storage: latest row wins whatever the clocks do; ids are per split; --overwrite of some splits only."""

import json

import numpy as np

from pitchprobe.core.layout import label_split_dir, manifest_path
from pitchprobe.data.fleurs import LocalSource, gather_language
from pitchprobe.labels.make import make_labels
from pitchprobe.labels.pitch import PitchParams
from pitchprobe.labels.store import read_labels, write_part


def _row(utt_id, status, f0=None):
    return {
        "id": utt_id,
        "status": status,
        "reason": None if status == "ok" else "worker_died",
        "message": None,
        "num_samples": 3200,
        "sampling_rate": 16000,
        "hop_samples": 320,
        "first_centre_samples": 200,
        "f0_hz": f0,
    }


def test_a_later_part_wins_even_after_the_clock_went_back(tmp_path):
    split_dir = label_split_dir(tmp_path, "xx", "test")
    first = write_part(split_dir, [_row("a", "failed")], PitchParams())
    future = first.with_name(f"part-{9 * 10**19:020d}-1.parquet")  # written by a node whose clock ran ahead
    first.rename(future)
    later = write_part(split_dir, [_row("a", "ok", np.array([0.0, 120.0]))], PitchParams())
    assert later.name > future.name
    lab = read_labels(tmp_path, "xx", "test")["a"]
    assert lab.status == "ok" and lab.f0_hz.tolist() == [0.0, 120.0]
    assert isinstance(lab.first_centre_samples, int)


def test_one_id_in_two_splits_is_labelled_in_each(tmp_path, corpus, table):
    root = tmp_path / "d"
    gather_language(table["zz_level"], root=root, source=LocalSource(corpus), splits=("dev", "test"))
    path = manifest_path(root, "zz_level")
    records = [json.loads(line) for line in path.read_text().splitlines()]
    twin = {**next(r for r in records if r["split"] == "test"), "split": "dev"}
    path.write_text("".join(json.dumps(r) + "\n" for r in [*records, twin]))
    s = make_labels("zz_level", root=root, splits=("dev", "test"), jobs=2, progress=False)
    assert s.computed == len(records) + 1 and not s.failed
    dev, test = read_labels(root, "zz_level", "dev"), read_labels(root, "zz_level", "test")
    assert twin["id"] in dev and twin["id"] in test
    np.testing.assert_array_equal(dev[twin["id"]].f0_hz, test[twin["id"]].f0_hz)


def test_overwrite_of_some_splits_keeps_the_others(tmp_path, corpus, table):
    root = tmp_path / "d"
    gather_language(table["zz_level"], root=root, source=LocalSource(corpus), splits=("dev", "test"))
    make_labels("zz_level", root=root, splits=("dev", "test"), progress=False)
    dev_parts = sorted(label_split_dir(root, "zz_level", "dev").glob("part-*"))
    s = make_labels("zz_level", root=root, splits=("test",), overwrite=True, progress=False)
    assert s.computed == s.total and s.already_done == 0
    assert sorted(label_split_dir(root, "zz_level", "dev").glob("part-*")) == dev_parts
    other = PitchParams(frame_space_ms=10.0)  # other settings: every split's labels go, as they no longer match
    make_labels("zz_level", root=root, params=other, splits=("test",), overwrite=True, progress=False)
    assert not list(label_split_dir(root, "zz_level", "dev").glob("part-*"))
