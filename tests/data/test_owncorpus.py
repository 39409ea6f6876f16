"""A folder of one's own recordings as a corpus: splits that a small corpus can probe, and re-splitting that moves."""

from pathlib import Path

from pitchprobe.core.layout import SPLITS, audio_dir
from pitchprobe.data.owncorpus import assign_splits, gather_folder, split_of
from pitchprobe.labels.make import make_labels
from pitchprobe.labels.store import read_labels
from tests.conftest import write_recordings


def counts(records) -> dict[str, int]:
    return {s: sum(r["split"] == s for r in records) for s in SPLITS}


def test_a_small_corpus_gets_a_file_in_every_split():
    for n in range(3, 12):
        names = [f"rec{i}.wav" for i in range(n)]
        got = assign_splits(names, (0.8, 0.1, 0.1))
        assert set(got.values()) == set(SPLITS), n
        assert got == assign_splits(list(reversed(names)), (0.8, 0.1, 0.1))  # deterministic, whatever the order
    five = assign_splits([f"rec{i}.wav" for i in range(5)], (0.8, 0.1, 0.1))
    assert sorted(five.values()) == ["dev", "test", "train", "train", "train"]
    # a split with no ratio stays empty, and too few files keep the hash
    assert "dev" not in assign_splits([f"r{i}.wav" for i in range(6)], (0.8, 0, 0.2)).values()
    two = ["a.wav", "b.wav"]
    assert assign_splits(two, (0.8, 0.1, 0.1)) == {p: split_of(p, (0.8, 0.1, 0.1)) for p in two}


def test_a_large_corpus_keeps_the_hash_and_adding_files_moves_none():
    names = [f"spk{i}/utt{i}.wav" for i in range(300)]
    before = assign_splits(names, (0.8, 0.1, 0.1))
    assert before == {p: split_of(p, (0.8, 0.1, 0.1)) for p in names}
    after = assign_splits([*names, *(f"new{i}.wav" for i in range(50))], (0.8, 0.1, 0.1))
    assert {p: after[p] for p in names} == before


def test_five_recordings_split_three_one_one(tmp_path):
    src = write_recordings(tmp_path / "rec", 5)
    records, failures = gather_folder(src, name="mine", root=tmp_path / "d")
    assert not failures and counts(records) == {"train": 3, "dev": 1, "test": 1}


def test_resplitting_moves_files_and_the_next_labels_label_them_where_they_are(tmp_path):
    src, root = write_recordings(tmp_path / "rec", 6), tmp_path / "d"
    first, _ = gather_folder(src, name="mine", root=root, ratios=(0.8, 0.1, 0.1))
    make_labels("mine", root=root, jobs=1, progress=False)
    second, _ = gather_folder(src, name="mine", root=root, ratios=(0, 0.5, 0.5))
    assert counts(second)["train"] == 0 and counts(second)["dev"] and counts(second)["test"]
    assert not list(audio_dir(root, "mine", "train").glob("*.wav"))  # moved, no copy left behind
    on_disk = sorted(p.name for s in SPLITS for p in audio_dir(root, "mine", s).glob("*.wav"))
    assert on_disk == sorted(f"rec{i}.wav" for i in range(6))
    assert all(Path(r["path"]).is_file() and Path(r["path"]).parent.name == r["split"] for r in second)
    moved = sum(a["split"] != b["split"] for a, b in zip(first, second))
    s = make_labels("mine", root=root, jobs=1, progress=False)  # no flag: what moved is labelled in its new split
    assert s.computed == moved and s.already_done == 6 - moved and not s.failed
    for split in ("dev", "test"):
        assert set(read_labels(root, "mine", split)) >= {r["id"] for r in second if r["split"] == split}
