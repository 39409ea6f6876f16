"""The tiny offline study every test of the study package shares (built once per test session)."""

import numpy as np
import pytest
from transformers import HubertConfig

from pitchprobe.analysis.report import make_report
from pitchprobe.core.layout import label_split_dir
from pitchprobe.data.fleurs import LocalSource, gather_language
from pitchprobe.data.languages import load_table
from pitchprobe.data.synth import write_corpus
from pitchprobe.labels.make import make_labels
from pitchprobe.labels.store import read_labels, write_part
from pitchprobe.study.run import StudyConfig, StudySummary, run_study

TINY_HUBERT = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64}


def run_reported(cfg: StudyConfig, **kw) -> StudySummary:
    """What ``pitchprobe study`` does: the study, then its report (``summary.report``)."""
    summary = run_study(cfg, **kw)
    make_report(summary.run_dir, summary=summary)
    return summary


def plant_no_pitch(root, code):
    """Destroy the F0 information of one language: each utterance gets another utterance's F0 contour."""
    from pitchprobe.labels.pitch import PitchParams

    for split in ("train", "dev", "test"):
        labels = read_labels(root, code, split)
        ids = sorted(labels)
        rows = []
        for i, k in enumerate(ids):
            lab = labels[k]
            other = labels[ids[(i + 1) % len(ids)]].f0_hz[::-1]
            f0 = np.resize(other, lab.f0_hz.size)
            rows.append(
                {
                    **{f: getattr(lab, f) for f in ("id", "status", "reason", "message", "num_samples", "hop_samples")},
                    "first_centre_samples": lab.first_centre_samples,
                    "sampling_rate": 16000,
                    "f0_hz": f0,
                }
            )
        split_dir = label_split_dir(root, code, split)
        for p in split_dir.glob("part-*.parquet"):
            p.unlink()
        write_part(split_dir, rows, PitchParams())


@pytest.fixture(scope="package")
def study(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("study")
    corpus = write_corpus(tmp / "src", utterances_per_split={"train": 6, "dev": 3, "test": 10}, duration_s=(1.2, 1.8))
    root = tmp / "data"
    for lang in load_table(corpus / "languages.tsv").values():
        gather_language(lang, root=root, source=LocalSource(corpus))
        make_labels(lang.code, root=root, jobs=2, progress=False)
    plant_no_pitch(root, "zz_intonation")
    HubertConfig(
        **TINY_HUBERT, conv_dim=(16,) * 7, num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=4
    ).save_pretrained(tmp / "hubert")
    cfg = StudyConfig(
        langs=["zz_contour", "zz_intonation", "zz_level"],
        models=["fbank", f"random:{tmp / 'hubert'}"],
        run_dir=str(tmp / "run"),
        data_dir=str(root),
        train_langs=["zz_level"],
        pooled=True,
        languages_table=str(corpus / "languages.tsv"),
        source=str(corpus),
        bootstrap=200,
        permutations=500,
        device="cpu",
    )
    summary = run_reported(cfg, progress=False)
    return cfg, summary
