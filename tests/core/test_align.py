import numpy as np
import pytest

from pitchprobe.core.align import FrameGrid, align

LABELS = FrameGrid(first=200.0, hop=320.0)  # pYAAPT 25 ms / 20 ms at 16 kHz
HUBERT = FrameGrid(first=200.0, hop=320.0)
FBANK = FrameGrid(first=200.0, hop=160.0)
STFT = FrameGrid(first=0.0, hop=160.0)


def brute_force(n_labels, label_grid, n_model, model_grid):
    """Nearest model centre by exhaustive search; ties to the later frame; drop if > half a hop away."""
    lc = label_grid.centres(n_labels)
    mc = model_grid.centres(n_model)
    pairs = []
    for j, c in enumerate(lc):
        d = np.abs(mc - c)
        k = int(np.flatnonzero(d == d.min())[-1])
        if d[k] <= model_grid.hop / 2 and not (d[k] == model_grid.hop / 2 and k == n_model - 1 and c > mc[k]):
            pairs.append((j, k))
    return pairs


@pytest.mark.parametrize("n", [16000, 16399, 16400, 16719, 16720, 16721, 400 + 320 * 50])
def test_hubert_frames_map_one_to_one(n):
    n_labels = (n - 401) // 320 + 1  # pYAAPT's frame count
    n_model = (n - 400) // 320 + 1  # HuBERT's frame count
    al = align(n_labels=n_labels, label_grid=LABELS, n_model=n_model, model_grid=HUBERT)
    np.testing.assert_array_equal(al.model_index, np.arange(n_labels))
    assert al.dropped == 0
    if (n - 400) % 320 == 0:
        assert n_model == n_labels + 1  # the model's extra last frame is simply unused


def test_fbank_frames_are_every_other():
    n = 32000
    al = align(n_labels=(n - 401) // 320 + 1, label_grid=LABELS, n_model=(n - 400) // 160 + 1, model_grid=FBANK)
    np.testing.assert_array_equal(al.model_index, 2 * al.label_index)
    assert al.dropped == 0


def test_centred_stft_frames_are_odd_and_within_a_quarter_hop():
    al = align(n_labels=99, label_grid=LABELS, n_model=201, model_grid=STFT)
    np.testing.assert_array_equal(al.model_index, 2 * al.label_index + 1)
    dist = np.abs(LABELS.centres(99)[al.label_index] - STFT.centres(201)[al.model_index])
    assert dist.max() == 40.0


def test_labels_beyond_the_model_are_dropped_and_counted():
    # S3PRL would pad to (N - 1) // 320 + 1 frames; with only the real ones, later labels have no partner
    al = align(n_labels=60, label_grid=LABELS, n_model=50, model_grid=HUBERT)
    assert al.dropped == 10
    assert al.label_index.max() == 49


@pytest.mark.parametrize(
    ("label_grid", "model_grid", "n_labels", "n_model"),
    [
        (LABELS, FrameGrid(first=360.0, hop=480.0), 80, 50),  # 30 ms model
        (FrameGrid(first=200.0, hop=160.0), HUBERT, 150, 70),  # 10 ms labels, ties between frames
        (LABELS, FrameGrid(first=1000.0, hop=320.0), 40, 35),  # model starting late: early labels dropped
    ],
)
def test_any_stride_matches_brute_force(label_grid, model_grid, n_labels, n_model):
    al = align(n_labels=n_labels, label_grid=label_grid, n_model=n_model, model_grid=model_grid)
    want = brute_force(n_labels, label_grid, n_model, model_grid)
    assert list(zip(al.label_index.tolist(), al.model_index.tolist())) == want
    assert al.dropped == n_labels - len(want)
