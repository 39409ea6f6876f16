import json

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.linear_model import LinearRegression

from pitchprobe.core.align import FrameGrid, align
from pitchprobe.core.audio import load_audio
from pitchprobe.data.manifest import read_manifest, write_manifest
from pitchprobe.labels.make import make_labels
from pitchprobe.labels.pitch import track
from pitchprobe.labels.store import read_labels
from pitchprobe.models import load_model
from pitchprobe.models.base import Backend
from pitchprobe.probe.metrics import TARGETS
from pitchprobe.probe.run import run_probe
from tests.conftest import write_bad_files


@pytest.fixture(scope="module")
def fbank():
    return load_model("fbank", device="cpu")


def aligned_frames(root, code, split, backend):
    """Independent path: every frame of a split in memory, aligned as the README says."""
    xs, ys = [], []
    labels = read_labels(root, code, split)
    for rec in read_manifest(root, code, splits=(split,)):
        lab = labels[rec["id"]]
        (states,) = backend.forward([load_audio(rec["path"])])
        x = states[0].double().numpy()
        al = align(
            n_labels=lab.f0_hz.size,
            label_grid=FrameGrid(lab.first_centre_samples, lab.hop_samples),
            n_model=x.shape[0],
            model_grid=backend.grid,
        )
        xs.append(x[al.model_index])
        ys.append(lab.f0_hz[al.label_index])
    return np.concatenate(xs), np.concatenate(ys)


def test_least_squares_probe_equals_an_independent_fit(labelled, fbank, tmp_path):
    res = run_probe(
        "zz_contour", root=labelled, backend=fbank, alpha=0.0, output=tmp_path / "r.json", progress=False
    ).to_dict()
    xtr, ytr = aligned_frames(labelled, "zz_contour", "train", fbank)
    xte, yte = aligned_frames(labelled, "zz_contour", "test", fbank)
    ref = LinearRegression().fit(xtr, ytr)
    mse = float(np.mean((ref.predict(xte) - yte) ** 2))
    layer = res["layers"][0]
    assert layer["f0_all"]["mse_hz2"] == pytest.approx(mse, rel=1e-6)
    assert layer["f0_all"]["frames"] == res["counts"]["test"]["frames"] == yte.size
    assert res["counts"]["train"]["frames"] == ytr.size
    v = yte > 0
    refv = LinearRegression().fit(xtr[ytr > 0], ytr[ytr > 0])
    rmse_v = float(np.sqrt(np.mean((refv.predict(xte[v]) - yte[v]) ** 2)))
    assert layer["f0_voiced"]["voiced"]["rmse_hz"] == pytest.approx(rmse_v, rel=1e-6)
    # the file on disk is the returned result, and the test predictions reproduce the metric
    saved = json.loads((tmp_path / "r.json").read_text())
    assert saved["layers"][0]["f0_all"]["mse_hz2"] == layer["f0_all"]["mse_hz2"]
    preds = pd.read_parquet(tmp_path / "r.predictions.parquet")
    p = np.concatenate(preds["pred_f0_all"].to_numpy())
    y = np.concatenate(preds["f0_hz"].to_numpy())
    assert np.mean((p.astype(float) - y) ** 2) == pytest.approx(mse, rel=1e-4)


def test_mean_floor_and_fields(labelled, fbank, tmp_path):
    res = run_probe("zz_level", root=labelled, backend=fbank, output=tmp_path / "r.json", progress=False).to_dict()
    base = res["baseline_train_mean"]
    _, ytr = aligned_frames(labelled, "zz_level", "train", fbank)
    _, yte = aligned_frames(labelled, "zz_level", "test", fbank)
    assert base["f0_all"]["train_mean"] == pytest.approx(ytr.mean())
    assert base["f0_all"]["mse_hz2"] == pytest.approx(np.mean((yte - ytr.mean()) ** 2))
    assert base["f0_voiced"]["voiced"]["r"] is None
    assert set(res["layers"][0]) >= set(TARGETS)
    assert res["layers"][0]["f0_all"]["alpha"] >= 0 and res["probe"]["alpha"] == "dev-grid"
    assert res["software"]["amfm_decompy"] and res["model"]["hop_samples"] == 160


class PlantedBackend(Backend):
    """Features that hold F0 linearly, at the label frames: layer 0 = [f0, noise], layer 1 = noise only."""

    def __init__(self):
        self.name, self.random_init, self.device = "planted", False, torch.device("cpu")
        self.num_layers, self.hidden_sizes, self.window, self.hop = 2, [4, 4], 400, 320
        self.rng = np.random.default_rng(0)

    def _forward(self, wavs):
        out = []
        for w in wavs:
            f0 = track(w.double().numpy())
            n = self.num_frames(len(w))
            f0 = np.pad(f0, (0, n - f0.size))
            noise = self.rng.normal(size=(n, 3))
            layer0 = np.column_stack([3.0 * f0 - 7.0, noise])
            out.append([torch.tensor(layer0, dtype=torch.float32), torch.tensor(self.rng.normal(size=(n, 4)))])
        return out


def test_planted_linear_signal_is_recovered_in_its_layer_only(labelled, tmp_path):
    res = run_probe(
        "zz_intonation", root=labelled, backend=PlantedBackend(), output=tmp_path / "p.json", progress=False
    ).to_dict()
    planted, noise = res["layers"]
    assert planted["f0_all"]["mse_hz2"] < 1e-3
    assert planted["f0_voiced"]["voiced"]["r2"] > 0.999999
    assert planted["f0_voiced"]["voiced"]["r"] > 0.999999
    assert noise["f0_voiced"]["voiced"]["r2"] < 0.05
    assert noise["f0_all"]["mse_hz2"] > 0.9 * res["baseline_train_mean"]["f0_all"]["mse_hz2"]


def test_bad_files_are_counted_and_the_probe_goes_on(labelled, corpus, fbank, tmp_path):
    root = tmp_path / "d"
    import shutil

    shutil.copytree(labelled, root)
    records = read_manifest(root, "zz_level")
    for name, path in write_bad_files(tmp_path / "bad").items():
        records.append({**records[0], "split": "test", "id": f"bad_{name}", "path": str(path)})
    write_manifest(root, "zz_level", records)
    make_labels("zz_level", root=root, jobs=1, progress=False)
    res = run_probe("zz_level", root=root, backend=fbank, progress=False).to_dict()
    got = {f["id"]: f["reason"] for f in res["failures"]}
    assert got == {
        "bad_corrupt": "corrupt",
        "bad_empty": "empty",
        "bad_short": "too_short",
        "bad_stereo44k": "multichannel",
    }
    assert res["counts"]["test"]["failed"] == 4 and res["counts"]["test"]["utterances"] == 3


def test_buckets_sort_by_length_and_respect_both_caps():
    from pitchprobe.probe.frames import buckets

    lengths = [5, 30, 10, 20, 25, 100, 1]
    assert buckets(lengths, batch_size=3, max_batch_samples=90) == [[5], [1, 4, 3], [2, 0, 6]]
    assert buckets(lengths, batch_size=1, max_batch_samples=90) == [[i] for i in range(7)]  # order kept
    groups = buckets(lengths, batch_size=8, max_batch_samples=60)
    assert sorted(i for g in groups for i in g) == list(range(7))
    assert all(len(g) == 1 or lengths[g[0]] * len(g) <= 60 for g in groups)


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_a_low_precision_forward_changes_each_metric_by_little(labelled, tmp_path, dtype):
    from transformers import HubertConfig

    HubertConfig(
        hidden_size=64, num_hidden_layers=3, num_attention_heads=4, intermediate_size=128, conv_dim=(32,) * 7
    ).save_pretrained(tmp_path / "hubert")
    results = {}
    for dt in ("float32", dtype):
        backend = load_model(str(tmp_path / "hubert"), random_init=True, device="cpu", dtype=dt)
        results[dt] = run_probe(
            "zz_contour", root=labelled, backend=backend, alpha=1.0, output=tmp_path / dt / "r.json", progress=False
        )
    full, low = results["float32"], results[dtype]
    assert low.fingerprint["dtype"] == dtype and "dtype" not in full.fingerprint
    deltas = [abs(a.f0_voiced.voiced.r - b.f0_voiced.voiced.r) for a, b in zip(full.layers, low.layers)]
    assert max(deltas) > 0, "the forward did run in low precision"
    assert max(deltas) <= 0.005, deltas
    rel = [abs(a.f0_all.mse_hz2 - b.f0_all.mse_hz2) / a.f0_all.mse_hz2 for a, b in zip(full.layers, low.layers)]
    assert max(rel) <= 0.02, rel


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_the_whole_probe_on_cuda_equals_the_cpu(labelled, tmp_path):
    from transformers import HubertConfig

    HubertConfig(
        **{"hidden_size": 64, "num_hidden_layers": 3, "num_attention_heads": 4, "intermediate_size": 128}
    ).save_pretrained(tmp_path / "hubert")
    out = {}
    for device in ("cpu", "cuda"):
        backend = load_model(str(tmp_path / "hubert"), random_init=True, device=device)
        out[device] = run_probe(
            "zz_contour", root=labelled, backend=backend, alpha=1.0, output=tmp_path / device / "r.json", progress=False
        )
    for a, b in zip(out["cpu"].layers, out["cuda"].layers):
        assert abs(a.f0_voiced.voiced.r - b.f0_voiced.voiced.r) <= 1e-3
        assert abs(a.f0_all.mse_hz2 - b.f0_all.mse_hz2) <= 1e-3 * a.f0_all.mse_hz2


def test_batched_probe_equals_one_at_a_time(labelled, tmp_path):
    from transformers import HubertConfig

    small = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64}
    HubertConfig(**small, conv_dim=(16,) * 7).save_pretrained(tmp_path / "hubert")
    out = {}
    for bs in (1, 4):
        backend = load_model(str(tmp_path / "hubert"), random_init=True, device="cpu", batch_size=bs)
        assert backend.batch_size == bs
        out[bs] = run_probe(
            "zz_contour", root=labelled, backend=backend, alpha=1.0, output=tmp_path / f"{bs}.json", progress=False
        )
    assert out[4].counts["train"].padding_seconds > 0 and out[1].counts["train"].padding_seconds == 0
    for a, b in zip(out[1].layers, out[4].layers):
        assert b.f0_all.mse_hz2 == pytest.approx(a.f0_all.mse_hz2, rel=1e-4)
        assert b.f0_voiced.voiced.r == pytest.approx(a.f0_voiced.voiced.r, abs=1e-4)


@pytest.mark.slow  # starts DataLoader worker processes for each split
def test_prefetching_workers_give_the_same_result(labelled, fbank, tmp_path):
    out = {}
    for workers in (0, 2):
        fbank.prefetch_workers = workers
        try:
            out[workers] = run_probe(
                "zz_level", root=labelled, backend=fbank, alpha=0.0, output=tmp_path / f"{workers}.json", progress=False
            )
        finally:
            fbank.prefetch_workers = 0
    assert [lm.f0_all.mse_hz2 for lm in out[2].layers] == [lm.f0_all.mse_hz2 for lm in out[0].layers]
    assert out[2].counts == out[0].counts
