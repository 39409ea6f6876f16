"""The whole pipeline on real FLEURS speech (../shared/data/fleurs-examples), cut into a FLEURS-layout folder."""

import tarfile

import numpy as np
import pytest
import soundfile as sf
from sklearn.linear_model import LinearRegression

from pitchprobe.cli.main import main
from pitchprobe.core.audio import load_audio
from pitchprobe.data.manifest import read_manifest
from pitchprobe.labels.store import read_labels
from pitchprobe.models import load_model
from tests.conftest import SHARED_EXAMPLES
from tests.labels.test_pitch import reference
from tests.probe.test_run import aligned_frames

pytestmark = [
    pytest.mark.slow,  # every test here runs the whole pipeline
    pytest.mark.skipif(not SHARED_EXAMPLES.is_dir(), reason="../shared/data/fleurs-examples not present"),
]
SPLIT_OF_CHUNK = ["train", "train", "train", "train", "dev", "dev", "test", "test"]


def fleurs_folder(root, examples=None, splits=SPLIT_OF_CHUNK):
    """Cut each example into ``len(splits)`` chunks, chunk i in ``splits[i]``: languages in the FLEURS layout.

    Default: the Mandarin example (22.3 s) in 8 chunks of 2.8 s, as cmn_hans_cn.
    """
    examples = examples or {"cmn_hans_cn": "cmn_hans_cn_8942599177624850045.wav"}
    for code, name in examples.items():
        wav, rate = sf.read(SHARED_EXAMPLES / name, dtype="float32")
        lang = root / "data" / code
        (lang / "audio").mkdir(parents=True)
        for split in ("train", "dev", "test"):
            rows, files = [], []
            for i, (chunk, s) in enumerate(zip(np.array_split(wav, len(splits)), splits)):
                if s != split:
                    continue
                path = root / "tmp" / code / split / f"{1000 + i}.wav"
                path.parent.mkdir(parents=True, exist_ok=True)
                sf.write(path, chunk, rate, subtype="FLOAT")
                rows.append(f"{i}\t{path.name}\traw\ttext\tt e x t\t{chunk.size}\tFEMALE\n")
                files.append(path)
            (lang / f"{split}.tsv").write_text("".join(rows))
            with tarfile.open(lang / "audio" / f"{split}.tar.gz", "w:gz") as tar:
                for path in files:
                    tar.add(path, arcname=f"{split}/{path.name}")
    return root


def test_real_speech_through_gather_labels_and_least_squares_probe(tmp_path, capsys):
    src = fleurs_folder(tmp_path / "src")
    common = ["--data-dir", str(tmp_path / "d"), "-q"]
    assert main(["gather", "13", "--source", str(src), *common]) == 0
    assert main(["labels", "cmn_hans_cn", "--jobs", "2", *common]) == 0
    root = tmp_path / "d"
    for rec in read_manifest(root, "cmn_hans_cn"):
        lab = read_labels(root, "cmn_hans_cn", rec["split"])[rec["id"]]
        np.testing.assert_array_equal(
            lab.f0_hz, reference(load_audio(rec["path"]), frame_length=25.0, frame_space=20.0)
        )
    capsys.readouterr()
    assert main(["probe", "13", "--model", "fbank", "--alpha", "0", *common]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-2] == "lang_id: 13"
    fbank = load_model("fbank", device="cpu")
    xtr, ytr = aligned_frames(root, "cmn_hans_cn", "train", fbank)
    xte, yte = aligned_frames(root, "cmn_hans_cn", "test", fbank)
    mse = np.mean((LinearRegression().fit(xtr, ytr).predict(xte) - yte) ** 2)
    assert float(out[-3]) == pytest.approx(mse, rel=1e-5)
