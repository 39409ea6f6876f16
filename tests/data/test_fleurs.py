import io
import os
import shutil
import subprocess
import sys
import tarfile

import numpy as np
import pytest
import soundfile as sf

from pitchprobe.core.atomic import read_jsonl
from pitchprobe.core.errors import PitchProbeError
from pitchprobe.data.fleurs import LocalSource, gather_language, read_tsv, safe_extract
from pitchprobe.data.owncorpus import gather_folder, split_of
from tests.conftest import TINY, write_bad_files

FIELDS = {"id", "path", "split", "num_samples", "duration", "sampling_rate", "gender", "code", "lang_id"}


def test_manifest_from_a_local_fleurs_folder(tmp_path, corpus, table):
    s = gather_language(table["zz_level"], root=tmp_path, source=LocalSource(corpus))
    assert s.kept == TINY and s.problems == []
    records = read_jsonl(tmp_path / "manifests" / "zz_level.jsonl")
    assert len(records) == sum(TINY.values())
    tsv = read_tsv(corpus / "data" / "zz_level" / "test.tsv")
    for rec in records:
        assert FIELDS | {"lang_group", "tone_class", "fleurs_id"} <= rec.keys()
        info = sf.info(rec["path"])
        assert info.samplerate == rec["sampling_rate"] == 16000 and info.frames == rec["num_samples"]
        assert rec["duration"] == rec["num_samples"] / 16000
        assert (rec["code"], rec["lang_id"], rec["tone_class"]) == ("zz_level", 2, "tonal")
    assert {r["id"] for r in records if r["split"] == "test"} == {row["file_name"][:-4] for row in tsv}


def test_gender_filter_and_restart_without_reextracting(tmp_path, corpus, table):
    lang = table["zz_contour"]
    gather_language(lang, root=tmp_path, source=LocalSource(corpus))
    wav = next((tmp_path / "audio" / "zz_contour" / "train").glob("*.wav"))
    before = wav.stat().st_mtime_ns
    s = gather_language(lang, root=tmp_path, source=LocalSource(corpus), gender="female")
    assert s.extracted == []
    assert wav.stat().st_mtime_ns == before
    records = read_jsonl(tmp_path / "manifests" / "zz_contour.jsonl")
    rows = [r for split in ("train", "dev", "test") for r in read_tsv(corpus / "data" / "zz_contour" / f"{split}.tsv")]
    assert len(records) == sum(r["gender"] == "FEMALE" for r in rows) > 0
    assert {r["gender"] for r in records} == {"FEMALE"}


def _tar_with(tmp_path, members):
    path = tmp_path / "evil.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for name, kind in members:
            info = tarfile.TarInfo(name)
            if kind == "link":
                info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
                tar.addfile(info)
            else:
                info.size = 4
                tar.addfile(info, io.BytesIO(b"data"))
    return path


@pytest.mark.parametrize(
    "members",
    [
        [("train/../../escape.wav", "file")],
        [("/abs/escape.wav", "file")],
        [("train/link.wav", "link")],
        [("elsewhere/x.wav", "file")],
    ],
)
def test_extraction_refuses_members_that_escape(tmp_path, members):
    target = tmp_path / "out"
    with pytest.raises(PitchProbeError):
        safe_extract(_tar_with(tmp_path, members), target, member_prefix="train")
    assert not (tmp_path / "escape.wav").exists() and not list(target.rglob("*.wav"))


def test_hub_source_downloads_through_huggingface_hub(tmp_path, corpus):
    """The real hf_hub_download, served offline from a cache in the Hub's own layout."""
    snap = tmp_path / "hub" / "datasets--google--fleurs" / "snapshots" / ("a" * 40)
    shutil.copytree(corpus / "data" / "zz_level", snap / "data" / "zz_level")
    (tmp_path / "hub" / "datasets--google--fleurs" / "refs").mkdir(parents=True)
    (tmp_path / "hub" / "datasets--google--fleurs" / "refs" / "main").write_text("a" * 40)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(tmp_path / "hub")}
    code = (
        "import sys; from pathlib import Path\n"
        "from pitchprobe.cli.main import main\n"
        "sys.exit(main(['gather', 'zz_level', '--data-dir', sys.argv[1], '--languages', sys.argv[2], '-q']))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "d"), str(corpus / "languages.tsv")],
        env=env,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert len(read_jsonl(tmp_path / "d" / "manifests" / "zz_level.jsonl")) == sum(TINY.values())


def test_own_recordings_become_a_corpus(tmp_path):
    src = tmp_path / "recordings"
    (src / "sub").mkdir(parents=True)
    t = np.arange(44100 * 2) / 44100
    tone = 0.3 * np.sin(2 * np.pi * 220 * t)
    sf.write(src / "a.wav", np.stack([tone, tone], 1), 44100)
    sf.write(src / "sub" / "b.flac", 0.3 * np.sin(2 * np.pi * 150 * np.arange(16000) / 16000), 16000)
    write_bad_files(src / "bad")
    records, failures = gather_folder(src, name="mine", root=tmp_path / "d", ratios=(1, 1, 1))
    by_id = {r["id"]: r for r in records}
    assert set(by_id) >= {"a", "sub__b", "bad__stereo44k", "bad__short"}
    data, rate = sf.read(by_id["a"]["path"])
    assert rate == 16000 and data.ndim == 1 and data.size == 32000
    assert by_id["a"]["split"] == split_of("a.wav", (1, 1, 1))
    assert {f["path"].rsplit("/", 1)[1] for f in failures} == {"corrupt.wav", "empty.wav"}
    assert [r["id"] for r in read_jsonl(tmp_path / "d" / "manifests" / "mine.jsonl")] == [r["id"] for r in records]


def test_split_assignment_is_deterministic_and_follows_ratios():
    names = [f"spk{i}/utt{i}.wav" for i in range(3000)]
    splits = [split_of(n, (0.8, 0.1, 0.1)) for n in names]
    assert splits == [split_of(n, (0.8, 0.1, 0.1)) for n in names]
    frac = splits.count("train") / len(splits)
    assert 0.77 < frac < 0.83
