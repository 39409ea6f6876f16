import numpy as np
import pytest
import torch
from transformers import (
    Data2VecAudioConfig,
    Data2VecAudioModel,
    HubertConfig,
    HubertModel,
    Wav2Vec2Config,
    Wav2Vec2Model,
    WavLMConfig,
    WavLMModel,
)

from pitchprobe.models import load_model
from pitchprobe.models.base import measure_window
from pitchprobe.models.hf import receptive_field

TINY = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64}
TINY_CONV = {"conv_dim": (16,) * 7, "num_conv_pos_embeddings": 16, "num_conv_pos_embedding_groups": 4}


@pytest.fixture(scope="module")
def saved_hubert(tmp_path_factory):
    """A random HuBERT (group-norm front end, as hubert-base) saved with save_pretrained."""
    torch.manual_seed(0)
    model = HubertModel(HubertConfig(**TINY, **TINY_CONV)).eval()
    path = tmp_path_factory.mktemp("hubert")
    model.save_pretrained(path)
    return path, model


def test_receptive_field_of_hubert_base():
    cfg = HubertConfig()
    assert receptive_field(list(cfg.conv_kernel), list(cfg.conv_stride)) == (400, 320)


def test_saved_model_loads_back_and_gives_its_own_states(saved_hubert):
    path, model = saved_hubert
    backend = load_model(str(path), device="cpu")
    assert backend.num_layers == 3 and backend.hidden_sizes == [32] * 3
    assert (backend.window, backend.hop, backend.grid.first) == (400, 320, 200.0)
    assert not backend.model.training
    wav = np.random.default_rng(0).normal(size=16400) * 0.1
    (states,) = backend.forward([wav])
    with torch.no_grad():
        want = model(torch.tensor(wav, dtype=torch.float32)[None], output_hidden_states=True).hidden_states
    assert len(states) == 3
    for got, ref in zip(states, want):
        torch.testing.assert_close(got, ref[0])


@pytest.mark.parametrize("n", [16000, 16400, 16719, 16720, 16721])
def test_frame_counts_are_exact(saved_hubert, n):
    backend = load_model(str(saved_hubert[0]), device="cpu")
    (states,) = backend.forward([np.random.default_rng(n).normal(size=n) * 0.1])
    assert states[0].shape == ((n - 400) // 320 + 1, 32)


def test_measured_window_equals_the_receptive_field(saved_hubert):
    backend = load_model(str(saved_hubert[0]), device="cpu")

    def count(n):
        return int(backend.forward([np.full(n, 0.1) + np.sin(np.arange(n))])[0][0].shape[0])

    assert measure_window(count, hop=backend.hop) == backend.window == 400


def test_random_init_is_fresh_and_seeded(saved_hubert):
    path, model = saved_hubert
    a = load_model(str(path), random_init=True, seed=1, device="cpu")
    b = load_model(str(path), random_init=True, seed=1, device="cpu")
    c = load_model(str(path), random_init=True, seed=2, device="cpu")
    wa, wb, wc = (m.model.encoder.layers[0].attention.k_proj.weight for m in (a, b, c))
    assert torch.equal(wa, wb) and not torch.equal(wa, wc)
    assert not torch.equal(wa, model.encoder.layers[0].attention.k_proj.weight)


ARCHITECTURES = {
    "hubert-base (group norm)": (HubertConfig, HubertModel, {}),
    "wav2vec2-base (group norm)": (Wav2Vec2Config, Wav2Vec2Model, {}),
    "wavlm-base (group norm)": (WavLMConfig, WavLMModel, {}),
    "data2vec-audio (layer norm, 5 positional convolutions)": (Data2VecAudioConfig, Data2VecAudioModel, {}),
    "wav2vec2-large-lv60 (layer norm)": (
        Wav2Vec2Config,
        Wav2Vec2Model,
        {"feat_extract_norm": "layer", "do_stable_layer_norm": True},
    ),
}


@pytest.mark.parametrize("arch", list(ARCHITECTURES))
def test_batched_states_equal_one_at_a_time_for_every_architecture(tmp_path, arch):
    config_cls, model_cls, extra = ARCHITECTURES[arch]
    torch.manual_seed(0)
    model_cls(config_cls(**TINY, **TINY_CONV, **extra)).save_pretrained(tmp_path)
    reference = model_cls.from_pretrained(tmp_path).eval()  # transformers itself, one utterance at a time
    backend = load_model(str(tmp_path), batch_size=4, device="cpu")
    assert backend.batch_size == 4
    rng = np.random.default_rng(0)
    wavs = [rng.normal(size=n).astype(np.float32) * 0.1 for n in (23456, 16000, 9000, 12345)]
    batched = backend.forward(wavs)
    for wav, got in zip(wavs, batched):
        with torch.inference_mode():
            want = reference(torch.from_numpy(wav)[None], output_hidden_states=True).hidden_states
        assert len(got) == len(want) and got[0].shape[0] == (len(wav) - 400) // 320 + 1
        for g, w in zip(got, want):
            assert float((g - w[0]).abs().max()) <= 1e-4
    if "group" in arch:  # the test can tell: plain padding changes a group-norm model's states
        lengths = [len(w) for w in wavs]
        pad = torch.zeros(len(wavs), max(lengths))
        for i, w in enumerate(wavs):
            pad[i, : len(w)] = torch.from_numpy(w)
        with torch.inference_mode():
            naive = reference(pad, output_hidden_states=True).hidden_states[-1][2, : batched[2][-1].shape[0]]
        assert float((naive - batched[2][-1]).abs().max()) > 1e-2


def test_layer_norm_model_batched_with_mask_equals_one_by_one(tmp_path):
    torch.manual_seed(0)
    cfg = WavLMConfig(**TINY, **TINY_CONV, feat_extract_norm="layer", do_stable_layer_norm=True)
    WavLMModel(cfg).save_pretrained(tmp_path)
    backend = load_model(str(tmp_path), batch_size=3, device="cpu")
    assert backend.batch_size == 3
    rng = np.random.default_rng(0)
    wavs = [rng.normal(size=n) * 0.1 for n in (16000, 9000, 12345)]
    batched = backend.forward(wavs)
    for wav, got in zip(wavs, batched):
        (single,) = backend.forward([wav])
        assert got[0].shape[0] == (len(wav) - 400) // 320 + 1
        for g, s in zip(got, single):
            torch.testing.assert_close(g, s, atol=2e-5, rtol=1e-4)


def test_an_architecture_not_checked_for_exact_batching_runs_one_at_a_time(tmp_path):
    from transformers import Wav2Vec2ConformerConfig, Wav2Vec2ConformerModel

    torch.manual_seed(0)
    Wav2Vec2ConformerModel(Wav2Vec2ConformerConfig(**TINY, **TINY_CONV)).save_pretrained(tmp_path)
    backend = load_model(str(tmp_path), batch_size=4, device="cpu")
    assert backend.batch_size == 1  # its convolution module would see the padding
    (states,) = backend.forward([np.random.default_rng(0).normal(size=16000).astype(np.float32) * 0.1])
    assert states[0].shape[0] == (16000 - 400) // 320 + 1
