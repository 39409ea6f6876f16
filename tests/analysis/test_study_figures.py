"""The study figures say what they show: best layers on the bars of (a), no per-layer view of a one-layer model
in (b), no box or test for a group of one in (c)/(d), the band in (e)'s legend, one colour scale with values in
the cells of (f), and the true F0 in (g) where the corpus knows it."""

import numpy as np
import pandas as pd
import pytest

from pitchprobe.analysis import examples_figure, figures, transfer_figure
from pitchprobe.analysis.aggregate import best_layers, tidy_table
from pitchprobe.analysis.compare import group_test
from pitchprobe.data.synth import true_f0_at
from pitchprobe.study.config import StudyConfig
from tests.analysis.tidy import tidy


@pytest.fixture
def drawn(monkeypatch):
    """The figures drawn, by name (each module's ``_save`` records them)."""
    figs = {}

    def save(fig, out_dir, name):
        figs[name] = fig
        return out_dir / f"{name}.png"

    for module in (figures, transfer_figure, examples_figure):
        monkeypatch.setattr(module, "_save", save)
    return figs


def test_a_labels_each_bar_with_its_best_layer(drawn, tmp_path):
    df = tidy()
    figures.best_layer_per_language(df, tmp_path)
    axes = drawn["a_best_layer_per_language"].axes
    titles = [ax.get_title().replace("\n", " ") for ax in axes]
    hubert = axes[titles.index("hubert: best layer per language (L: the best layer, lowest dev MSE)")]
    best = best_layers(df[df.kind == "within"]).query("model_tag == 'hubert'")
    assert [t.get_text() for t in hubert.texts] == [f"L{layer}" for layer in best.sort_values("value").layer]
    fbank = axes[titles.index("fbank: best layer per language")]
    assert not fbank.texts, "a one-layer model has no layer to name"
    assert drawn["a_best_layer_per_language"].get_supylabel()  # one y label, not one per stacked panel


def test_b_has_no_per_layer_panel_for_a_one_layer_model(drawn, tmp_path):
    out = figures.layers_by_language(tidy(), tmp_path)
    assert [tag for tag, _ in out] == ["hubert", "hubert-random"]
    assert set(drawn) == {"b_layers_by_language_hubert", "b_layers_by_language_hubert-random"}


def test_c_draws_no_box_and_states_no_test_for_groups_of_one(drawn, tmp_path):
    df = tidy(codes=("aa_tone", "bb_tone", "dd_flat"))  # tonal 2, non-tonal 1
    best = best_layers(df[df.kind == "within"]).query("model_tag == 'hubert'")
    tests = {"hubert": group_test(best.value, best.tone_class, n_perm=50, seed=0)}
    figures.by_tone_class(df, tmp_path, tests=tests)
    ax = drawn["d_by_tone_class"].axes[1]
    assert "no test" in ax.get_title() and "p =" not in ax.get_title()
    at = [np.mean(line.get_xdata()) for line in ax.lines]  # the box's lines (whiskers, caps, median)
    assert any(abs(x - 2) < 0.3 for x in at), "tonal (n=2) has a box"
    assert not any(abs(x - 1) < 0.3 for x in at), "non-tonal (n=1) has none"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["non tonal\nn=1", "tonal\nn=2"]


def test_e_names_the_band_in_its_legend(drawn, tmp_path):
    figures.models_by_layer(tidy(), tmp_path)
    legend = drawn["e_models_by_layer"].axes[0].get_legend()
    assert "10–90 % of languages (band)" in [t.get_text() for t in legend.get_texts()]


def test_f_uses_one_colour_scale_and_writes_the_values(drawn, tmp_path):
    df = tidy()
    control = df[(df.model_tag == "hubert") & (df.kind == "transfer")].assign(
        model_tag="hubert-random", random_init=True, value=lambda d: d.value - 0.5
    )
    df = pd.concat([df, control], ignore_index=True)
    mats = transfer_figure.transfer_matrices(df)
    assert list(mats) == ["hubert", "hubert-random"]
    assert list(mats["hubert"].index) == ["pooled", "others"]  # single train languages reaching only themselves: out
    transfer_figure.transfer(df, tmp_path)
    fig = drawn["f_transfer"]
    images = [im for ax in fig.axes for im in ax.get_images()]
    assert len(images) == 2
    lo = min(m.min().min() for m in mats.values())
    hi = max(m.max().max() for m in mats.values())
    for im in images:
        assert (im.norm.vmin, im.norm.vmax) == pytest.approx((lo, hi))
    heat = fig.axes[0]
    cells = mats["hubert"]
    assert sorted(t.get_text() for t in heat.texts) == sorted(f"{v:.2f}" for v in cells.to_numpy().ravel())
    scatter = fig.axes[1]
    named = {t.get_text() for t in scatter.texts}
    assert named == set(cells.columns), "each transfer point carries its test language"


def test_f_for_movement_reads_the_movement_rows(drawn, tmp_path):
    df = tidy()
    mats = transfer_figure.transfer_matrices(df, target="st_utt", metric="r_within")
    r = transfer_figure.transfer_matrices(df)
    assert np.allclose(mats["hubert"].to_numpy(), r["hubert"].to_numpy() - 0.1)


@pytest.mark.slow
def test_g_draws_the_true_f0_at_the_label_centres(small_study, drawn, tmp_path):
    cfg = small_study
    assert isinstance(cfg, StudyConfig)
    df = tidy_table(cfg.run_dir, n_boot=0)
    examples_figure.contour_examples(cfg.run_dir, df, tmp_path, corpus=cfg.source)
    fig = drawn["g_contour_examples"]
    checked = 0
    for ax in fig.axes:
        truth = [line for line in ax.lines if line.get_label() == "true F0"]
        if not ax.get_title():
            continue
        code, uid = ax.get_title().split(" ")[0], ax.get_title().split(" · ")[1]
        pred = pd.read_parquet(f"{cfg.run_dir}/results/fbank/{code}.predictions.parquet").query("id == @uid")
        centres = np.asarray(pred.iloc[0].centre_samples, dtype=float)
        f0 = true_f0_at(np.load(f"{cfg.source}/truth/{code}/test/{uid}.npy"), centres)
        assert len(truth) == 1
        y = truth[0].get_ydata()
        assert np.array_equal(np.isnan(y), f0 <= 0) and np.allclose(y[f0 > 0], f0[f0 > 0])
        checked += 1
    assert checked == 2
    examples_figure.contour_examples(cfg.run_dir, df, tmp_path, corpus=None)
    assert not [line for ax in drawn["g_contour_examples"].axes for line in ax.lines if line.get_label() == "true F0"]
