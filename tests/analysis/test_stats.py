import itertools

import numpy as np
import pytest

from pitchprobe.analysis.stats import METRICS, bootstrap, group_permutation_test, metrics_from, utterance_stats
from pitchprobe.models import load_model
from pitchprobe.probe.metrics import NOT_SUMMED
from pitchprobe.probe.run import run_probe


@pytest.fixture(scope="module")
def probed(labelled, tmp_path_factory):
    out = tmp_path_factory.mktemp("res") / "zz_level.json"
    res = run_probe(
        "zz_level", root=labelled, backend=load_model("fbank", device="cpu"), output=out, progress=False
    ).to_dict()
    return res, utterance_stats(out.with_name("zz_level.predictions.parquet"))


def test_per_utterance_sums_reproduce_every_metric_of_the_run(probed):
    res, stats = probed
    total = stats.total()
    assert len(stats.ids) == res["counts"]["test"]["utterances"]
    checked = 0
    for target, metrics in METRICS.items():
        for metric in metrics:
            if (target, metric) in NOT_SUMMED:  # the ROC AUC is of histograms, not of per-utterance sums
                continue
            got = metrics_from(total, target, metric)
            for layer in res["layers"]:
                scores = layer["f0_all"] if metric in ("mse_hz2", "mse_hz2_post") else layer[target]["voiced"]
                want = scores[metric]
                if want is None:
                    assert np.isnan(got[layer["layer"]])
                    continue
                # predictions are stored as float32; a voicing score at its threshold may round across it
                tol = 2e-3 if metric == "balanced_accuracy" else 1e-4
                assert got[layer["layer"]] == pytest.approx(want, rel=tol)
                checked += 1
    assert checked > 20 * len(res["layers"])


def test_bootstrap_equals_an_explicit_resampling_loop_and_is_seeded(probed):
    _, stats = probed
    cis = bootstrap(stats, n_boot=200, seed=7)
    assert bootstrap(stats, n_boot=200, seed=7)[("f0_voiced", "r")][0] == pytest.approx(cis[("f0_voiced", "r")][0])
    rng = np.random.default_rng(7)
    u = len(stats.ids)
    counts = rng.multinomial(u, np.full(u, 1.0 / u), size=200)
    vals = []
    for c in counts:
        idx = np.repeat(np.arange(u), c)  # the resampled utterances, explicitly
        vals.append(metrics_from({k: v[idx].sum(0) for k, v in stats.sums.items()}, "f0_all", "mse_hz2"))
    lo, hi = np.percentile(np.array(vals), [2.5, 97.5], axis=0)
    np.testing.assert_allclose(cis[("f0_all", "mse_hz2")][0], lo)
    np.testing.assert_allclose(cis[("f0_all", "mse_hz2")][1], hi)


def test_group_permutation_test_matches_exact_enumeration():
    values = np.array([0.9, 0.85, 0.8, 0.6, 0.55, 0.5, 0.7])
    groups = np.array(["tonal"] * 3 + ["non_tonal"] * 4)
    res = group_permutation_test(values, groups, n_perm=20000, seed=0)

    def f_stat(g):
        a, b = values[g == "tonal"], values[g == "non_tonal"]
        grand = values.mean()
        between = len(a) * (a.mean() - grand) ** 2 + len(b) * (b.mean() - grand) ** 2
        within = ((a - a.mean()) ** 2).sum() + ((b - b.mean()) ** 2).sum()
        return between / (within / (len(values) - 2))

    obs = f_stat(groups)
    exact = []
    for idx in itertools.combinations(range(7), 3):
        g = np.array(["non_tonal"] * 7, dtype=object)
        g[list(idx)] = "tonal"
        exact.append(f_stat(g) >= obs - 1e-12)
    assert res["statistic"] == pytest.approx(obs)
    assert res["p_value"] == pytest.approx(np.mean(exact), abs=0.01)
    assert res["groups"]["tonal"] == {"n": 3, "mean": pytest.approx(0.85)}
    again = group_permutation_test(values, groups, n_perm=20000, seed=0)
    assert again["p_value"] == res["p_value"]


def test_permutation_count_is_the_one_asked_for(probed):
    """More permutations than one memory chunk: all of them run (the p-value has their resolution)."""
    from pitchprobe.analysis.stats import PERMUTATION_CHUNK, compare_languages

    _, stats = probed
    n = PERMUTATION_CHUNK + 501
    res = compare_languages(stats, stats, layer_a=0, layer_b=0, target="f0_voiced", metric="r", n_perm=n, seed=1)
    assert res["permutations"] == n
    hits = res["p_value"] * (1 + n)
    assert hits == pytest.approx(round(hits))  # (1 + #{|d| >= |obs|}) / (1 + n)
    small = compare_languages(stats, stats, layer_a=0, layer_b=0, target="f0_voiced", metric="r", n_perm=300, seed=1)
    assert small["permutations"] == 300
