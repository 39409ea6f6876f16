"""Shared fixtures: a small synthetic FLEURS-layout corpus, gathered and labelled once per session."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from pitchprobe.data.fleurs import LocalSource, gather
from pitchprobe.data.languages import load_table
from pitchprobe.data.synth import write_corpus
from pitchprobe.labels.make import make_labels

SHARED_EXAMPLES = Path(__file__).resolve().parents[2] / "shared" / "data" / "fleurs-examples"
TINY = {"train": 6, "dev": 3, "test": 3}


@pytest.fixture(scope="session")
def corpus(tmp_path_factory) -> Path:
    """A FLEURS-layout folder with three pseudo-languages and known F0."""
    return write_corpus(tmp_path_factory.mktemp("fleurs"), utterances_per_split=TINY, duration_s=(1.2, 2.0))


@pytest.fixture(scope="session")
def table(corpus):
    return load_table(corpus / "languages.tsv")


@pytest.fixture(scope="session")
def labelled(corpus, table, tmp_path_factory) -> Path:
    """Data root with every language of ``corpus`` gathered and labelled."""
    root = tmp_path_factory.mktemp("data")
    gather(list(table.values()), root=root, source=LocalSource(corpus))
    for code in table:
        make_labels(code, root=root, jobs=1, progress=False)
    return root


@pytest.fixture(scope="session")
def small_study(corpus, labelled, tmp_path_factory):
    """A finished study of two languages with fbank, a transfer and the pooled probes, on ``labelled`` (no report).
    Tests that change its run directory copy it first (:func:`copy_study`)."""
    from pitchprobe.study.config import StudyConfig
    from pitchprobe.study.run import run_study

    cfg = StudyConfig(
        langs=["zz_contour", "zz_level"],
        models=["fbank"],
        run_dir=str(tmp_path_factory.mktemp("small-study") / "run"),
        data_dir=str(labelled),
        source=str(corpus),
        languages_table=str(corpus / "languages.tsv"),
        train_langs=["zz_level"],
        pooled=True,
        bootstrap=20,
        permutations=20,
        device="cpu",
    )
    summary = run_study(cfg, progress=False)
    assert not summary.failed, summary.failed
    return cfg


def copy_study(cfg, to: Path):
    """``cfg`` with its run directory copied to ``to`` (config.json and all)."""
    import shutil
    from dataclasses import replace

    shutil.copytree(cfg.run_dir, to)
    return replace(cfg, run_dir=str(to))


def write_bad_files(folder: Path) -> dict[str, Path]:
    """The bad inputs every stage must survive: name -> path."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    bad = {
        "corrupt": folder / "corrupt.wav",
        "empty": folder / "empty.wav",
        "short": folder / "short.wav",
        "stereo44k": folder / "stereo44k.wav",
    }
    bad["corrupt"].write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt garbage that is not audio" * 3)
    sf.write(bad["empty"], np.zeros(0, dtype=np.float32), 16000)
    sf.write(bad["short"], 0.1 * rng.standard_normal(800), 16000)  # 0.05 s
    sf.write(bad["stereo44k"], 0.1 * rng.standard_normal((44100, 2)), 44100)
    return bad


def write_recordings(folder: Path, n: int, *, seed: int = 0) -> Path:
    """``n`` short synthetic utterances of known styles, as 16 kHz WAVs ``rec<i>.wav`` in ``folder``: one's own
    recordings for ``gather --from-dir``."""
    from pitchprobe.data.synth import STYLES, synth_utterance

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        wave, _ = synth_utterance(style=STYLES[i % len(STYLES)], base_f0_hz=120 + 20 * i, duration_s=1.0, rng=rng)
        sf.write(folder / f"rec{i}.wav", wave, 16000)
    return folder
