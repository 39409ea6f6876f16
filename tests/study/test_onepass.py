"""The one-pass study: each utterance through each model once, and every number equal to a stand-alone run."""

import hashlib
import json
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.linear_model import LinearRegression, Ridge

from pitchprobe.core.audio import load_audio
from pitchprobe.core.layout import ResultFiles
from pitchprobe.data.manifest import read_manifest
from pitchprobe.labels.store import read_labels
from pitchprobe.models import load_model
from pitchprobe.models.base import Backend
from pitchprobe.probe.core import Probes
from pitchprobe.probe.run import run_probe
from pitchprobe.probe.transfer import run_transfer
from pitchprobe.study.run import StudyConfig
from tests.probe.test_run import aligned_frames
from tests.study.conftest import run_reported

pytestmark = pytest.mark.slow  # every test here runs a study


def _values(res: dict) -> np.ndarray:
    """Every metric of every layer and of the floor, in a fixed order (None as NaN)."""
    out = []
    for lm in [*res["layers"], res["baseline_train_mean"]]:
        for t in ("f0_all", "f0_voiced", "logf0_voiced"):
            out += [lm[t]["voiced"][k] for k in ("rmse_hz", "rmse_cents", "r", "r2")]
            out += [lm[t].get(k) for k in ("mse_hz2", "mse_hz2_post", "alpha", "dev_mse")]
    return np.array([np.nan if v is None else v for v in out], dtype=float)


def test_study_results_equal_stand_alone_probe_and_transfer(study, tmp_path):
    cfg, _ = study
    root, run = Path(cfg.data_dir), Path(cfg.run_dir)
    fbank = load_model("fbank", device="cpu")
    for code in cfg.langs:  # linear_regress.py <lang> alone
        alone = run_probe(code, root=root, backend=fbank, output=tmp_path / f"{code}.json", progress=False).to_dict()
        mine = json.loads((run / "results" / "fbank" / f"{code}.json").read_text())
        np.testing.assert_allclose(_values(mine), _values(alone), rtol=1e-9, atol=1e-12)
        assert mine["counts"] == alone["counts"]
    others = [c for c in cfg.langs if c != "zz_level"]
    results = run_transfer(
        "zz_level", others, root=root, backend=fbank, files_of=lambda c: ResultFiles(tmp_path / f"t-{c}.json"),
        progress=False,
    )  # fmt: skip
    for res in results:
        mine = json.loads((run / "transfer" / "fbank" / "zz_level" / f"{res.code}.json").read_text())
        np.testing.assert_allclose(_values(mine), _values(res.to_dict()), rtol=1e-9, atol=1e-12)


def _fit_reference(frames, alpha):
    x, y = frames
    return (LinearRegression() if alpha == 0 else Ridge(alpha=alpha)).fit(x, y)


def test_pooled_and_leave_one_out_probes_equal_fits_on_the_concatenated_frames(study):
    cfg, _ = study
    root, probes_dir = Path(cfg.data_dir), Path(cfg.run_dir) / "probes" / "fbank"
    fbank = load_model("fbank", device="cpu")
    frames = {c: aligned_frames(root, c, "train", fbank) for c in cfg.langs}
    cases = {"pooled": cfg.langs, **{f"others--{c}": [o for o in cfg.langs if o != c] for c in cfg.langs}}
    for name, langs in cases.items():
        probes = Probes.load(probes_dir / f"{name}.npz")
        x = np.concatenate([frames[c][0] for c in langs])
        y = np.concatenate([frames[c][1] for c in langs])
        for col, keep in ((0, np.ones(y.size, bool)), (1, y > 0)):
            ref = _fit_reference((x[keep], y[keep]), float(probes.alpha[0, col]))
            pred, want = x[keep] @ probes.coef[0][:, col] + probes.intercept[0, col], ref.predict(x[keep])
            np.testing.assert_allclose(pred, want, rtol=1e-6, atol=1e-6 * np.abs(want).max())
            np.testing.assert_allclose(
                probes.coef[0][:, col], ref.coef_, rtol=1e-6, atol=1e-6 * np.abs(ref.coef_).max()
            )


class _Counting:
    """A backend that counts the waveforms it is given (and can stop the study after ``stop_after`` of them)."""

    def __init__(self, backend, stop_after=None):
        self._b, self.seen, self.stop_after = backend, [], stop_after

    def __getattr__(self, name):
        return getattr(self._b, name)

    def forward(self, wavs):
        for w in wavs:
            if self.stop_after is not None and len(self.seen) >= self.stop_after:
                raise KeyboardInterrupt("killed")
            self.seen.append(hashlib.sha1(np.asarray(w, dtype=np.float32).tobytes()).hexdigest())
        return self._b.forward(wavs)


def _fbank_study(cfg, run_dir, **kw):
    base = {**asdict(cfg), "run_dir": str(run_dir), "models": ["fbank"], "bootstrap": 50, "permutations": 50}
    return StudyConfig(**{**base, **kw})


def test_a_full_matrix_with_pooled_probes_puts_each_utterance_through_the_model_once(study, tmp_path):
    cfg, _ = study
    c = _fbank_study(cfg, tmp_path / "run", train_langs=list(cfg.langs), pooled=True)
    counting = _Counting(load_model("fbank", device="cpu"))
    summary = run_reported(c, progress=False, loader=lambda ident: counting)
    assert not summary.failed
    n_utts = sum(len(read_manifest(Path(cfg.data_dir), code)) for code in cfg.langs)
    assert len(counting.seen) == len(set(counting.seen)) == n_utts
    df = pd.read_parquet(tmp_path / "run" / "tables" / "results.parquet")
    pairs = df[df.kind == "transfer"].groupby(["train_language", "code"]).size()
    assert len(pairs) == 3 * 2 + 3 + 3  # the off-diagonal matrix, pooled and others on each language


class _Planted(Backend):
    """States that hold each utterance's labels (looked up by its audio): layer 0 holds F0 in one feature shared
    by every language; layer 1 holds it in a feature of its language's own (on voiced frames), and noise of the
    same variance in the others."""

    def __init__(self, root, langs):
        self.name, self.random_init, self.device = "planted", False, torch.device("cpu")
        self.num_layers, self.hidden_sizes, self.window, self.hop = 2, [3, len(langs)], 400, 320
        self.rng, self.by_audio = np.random.default_rng(0), {}
        for k, code in enumerate(langs):
            for split in ("train", "dev", "test"):
                labels = read_labels(root, code, split)
                for rec in read_manifest(root, code, splits=(split,)):
                    key = load_audio(rec["path"]).astype(np.float32).tobytes()
                    self.by_audio[hashlib.sha1(key).hexdigest()] = (k, labels[rec["id"]].f0_hz)

    def _forward(self, wavs):
        out = []
        for w in wavs:
            k, f0 = self.by_audio[hashlib.sha1(w.cpu().numpy().tobytes()).hexdigest()]
            n = self.num_frames(len(w))
            f0 = np.pad(f0, (0, max(0, n - f0.size)))[:n]
            shared = np.column_stack([2.0 * f0 + 3.0, self.rng.normal(size=(n, 2))])
            own = self.rng.normal(size=(n, self.hidden_sizes[1]))  # features of unit variance, one of them F0
            own[f0 > 0, k] = (f0[f0 > 0] - 150.0) / 40.0
            out.append([torch.tensor(shared, dtype=torch.float32), torch.tensor(own, dtype=torch.float32)])
        return out


def test_a_planted_shared_feature_transfers_and_a_language_specific_one_does_not(study, tmp_path):
    cfg, _ = study
    planted = _Planted(Path(cfg.data_dir), cfg.langs)
    c = _fbank_study(cfg, tmp_path / "run", train_langs=list(cfg.langs), pooled=True, alpha=0.0)
    summary = run_reported(c, progress=False, loader=lambda ident: planted)
    assert not summary.failed
    df = pd.read_parquet(tmp_path / "run" / "tables" / "results.parquet")
    r = df[(df.predictor == "probe") & (df.target == "f0_voiced") & (df.metric == "r")]
    tr = r[r.kind == "transfer"]
    assert len(tr[tr.layer == 0]) == 12 and (tr[tr.layer == 0].value > 0.999).all()
    single = tr[(tr.layer == 1) & ~tr.train_language.isin(["pooled", "others"])]
    assert len(single) == 6 and (single.value.abs() < 0.3).all(), "F0 in another language's feature is noise here"
    others = tr[(tr.layer == 1) & (tr.train_language == "others")]
    assert (others.value.abs() < 0.3).all(), "left out, a language's own feature was never seen"
    assert (r[(r.kind == "within") & (r.layer == 1)].value > 0.999).all()


@pytest.mark.parametrize("stop_after", [12, 27, 45], ids=["in-fit", "after-pool", "in-score"])
def test_a_study_killed_in_each_phase_resumes_without_recomputing_a_unit(study, tmp_path, stop_after):
    cfg, _ = study
    ref = _fbank_study(cfg, tmp_path / "ref", pooled=True, train_langs=["zz_level"])
    run_reported(ref, progress=False)
    c = replace(ref, run_dir=str(tmp_path / "run"))
    counting = _Counting(load_model("fbank", device="cpu"), stop_after=stop_after)
    with pytest.raises(KeyboardInterrupt):
        run_reported(c, progress=False, loader=lambda ident: counting)
    units = Path(c.run_dir) / "units"
    done = sorted(p.stem for p in units.glob("*.json"))
    phases = {u.split("--")[0] for u in done}
    assert {"in-fit": {"fit"}, "after-pool": {"fit", "pool"}, "in-score": {"fit", "pool", "score"}}[
        {12: "in-fit", 27: "after-pool", 45: "in-score"}[stop_after]
    ] == phases
    outputs = [p for d in ("fits", "probes", "results", "transfer") for p in (Path(c.run_dir) / d).rglob("*.*")]
    mtimes = {p: p.stat().st_mtime_ns for p in outputs}
    summary = run_reported(c, progress=False)
    assert sorted(summary.skipped) == done and not summary.failed
    assert not set(summary.done) & set(done), "no unit done before the kill is recomputed"
    assert {p: p.stat().st_mtime_ns for p in mtimes} == mtimes, "no output of theirs is rewritten"
    a = pd.read_parquet(tmp_path / "ref" / "tables" / "results.parquet")
    b = pd.read_parquet(tmp_path / "run" / "tables" / "results.parquet")
    pd.testing.assert_frame_equal(a, b)


def test_float32_sums_are_recorded_and_a_rerun_recomputes_nothing(study, tmp_path):
    cfg, _ = study
    c = _fbank_study(cfg, tmp_path / "run", pooled=True, train_langs=[], sums_dtype="float32")
    first = run_reported(c, progress=False)
    assert not first.failed
    res = json.loads((tmp_path / "run" / "transfer" / "fbank" / "pooled" / "zz_level.json").read_text())
    assert res["fingerprint"]["sums_dtype"] == "float32"
    again = run_reported(c, progress=False)
    assert again.done == [] and sorted(again.skipped) == sorted(first.done)
    within = json.loads((Path(cfg.run_dir) / "transfer" / "fbank" / "pooled" / "zz_level.json").read_text())
    np.testing.assert_allclose(_values(res), _values(within), rtol=1e-4)
