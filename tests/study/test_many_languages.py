"""A study over as many languages as FLEURS has (102 small pseudo-languages): it finishes and its report reads."""

import matplotlib.image as mpimg
import pandas as pd
import pytest

from pitchprobe.data.fleurs import LocalSource, gather
from pitchprobe.data.languages import load_table
from pitchprobe.data.synth import STYLES, PseudoLanguage, write_corpus
from pitchprobe.study.run import StudyConfig
from tests.study.conftest import run_reported

pytestmark = pytest.mark.slow  # 102 languages gathered, labelled and probed

N_LANGS = 102  # as FLEURS
MAX_SIDE_PX = 6000  # a figure wider or taller than this does not read on a screen or a page


def test_a_102_language_pooled_study_finishes_with_a_readable_report(tmp_path):
    langs = [
        PseudoLanguage(f"zz_{i:03d}", f"Synthetic {i}", f"synthetic_{i % 7}", ("tonal", "non_tonal")[i % 2],
                       STYLES[i % len(STYLES)])
        for i in range(N_LANGS)
    ]  # fmt: skip
    corpus = write_corpus(tmp_path / "src", languages=langs, utterances_per_split={"train": 2, "dev": 1, "test": 2},
                          duration_s=(1.1, 1.3))  # fmt: skip
    root = tmp_path / "data"
    gather(list(load_table(corpus / "languages.tsv").values()), root=root, source=LocalSource(corpus))
    cfg = StudyConfig(
        langs=[lang.code for lang in langs],
        models=["fbank"],
        run_dir=str(tmp_path / "run"),
        data_dir=str(root),
        languages_table=str(corpus / "languages.tsv"),
        train_langs=["zz_000", "zz_001"],
        pooled=True,
        bootstrap=50,
        permutations=100,
        device="cpu",
    )
    summary = run_reported(cfg, progress=False)
    assert not summary.failed and len(summary.done) == 2 * N_LANGS + 1
    transfer = pd.read_csv(tmp_path / "run" / "tables" / "transfer.csv")
    assert len(transfer) == N_LANGS and transfer[["within", "pooled", "others"]].notna().all().all()
    best = pd.read_csv(tmp_path / "run" / "tables" / "best_layers.csv")
    assert sorted(best.code) == cfg.langs
    figures = sorted((tmp_path / "run" / "figures").glob("*.png"))
    assert {p.stem.split("_")[0] for p in figures} == set("acdefgh")  # (b): none for fbank, of one layer
    for p in figures:
        h, w = mpimg.imread(p).shape[:2]
        assert 100 < h <= MAX_SIDE_PX and 100 < w <= MAX_SIDE_PX, (p.name, h, w)
    html = (tmp_path / "run" / "report.html").read_text()
    assert "Cross-lingual transfer" in html and html.count("zz_101") >= 2
