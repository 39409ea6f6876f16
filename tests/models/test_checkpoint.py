"""S3PRL checkpoints are loaded as weights only unless trusted (``--trust-checkpoint``)."""

import argparse
import pathlib
import pickle

import pytest
import torch

from pitchprobe.core.errors import PitchProbeError
from pitchprobe.models import ModelIdentity, load_model
from pitchprobe.models.s3prl import check_checkpoint, check_s3prl_ckpt


class Evil:
    """Unpickling it creates the file ``marker``: a stand-in for any command."""

    def __init__(self, marker: pathlib.Path):
        self.marker = marker

    def __reduce__(self):
        return (pathlib.Path.touch, (self.marker,))


@pytest.fixture
def evil(tmp_path):
    marker = tmp_path / "MARKER"
    path = tmp_path / "evil.pt"
    torch.save({"obj": Evil(marker)}, path)
    assert not marker.exists()
    return path, marker


def test_the_crafted_checkpoint_does_run_code_when_unpickled(evil):
    # the premise of the other tests: full pickle (what mockingjay_local does) creates the marker
    path, marker = evil
    torch.load(path, map_location="cpu", weights_only=False)
    assert marker.exists()


def test_mockingjay_local_exists_in_the_installed_s3prl():
    from s3prl import hub

    assert all(callable(getattr(hub, n, None)) for n in ("mockingjay_local", "tera_local", "distiller_local"))


@pytest.mark.parametrize("name", ["mockingjay_local", "tera_local", "distiller_local"])
def test_pickle_checkpoint_is_refused_and_runs_nothing(evil, name):
    path, marker = evil
    with pytest.raises(PitchProbeError) as e:
        load_model(name, device="cpu", s3prl_ckpt=str(path))
    msg = str(e.value)
    assert str(path) in msg and "pickle" in msg and "--trust-checkpoint" in msg
    assert "\n" not in msg
    assert not marker.exists()


def test_plain_pickle_file_is_refused_and_runs_nothing(tmp_path):
    marker = tmp_path / "MARKER"
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps({"obj": Evil(marker)}))
    with pytest.raises(PitchProbeError, match="--trust-checkpoint"):
        load_model("mockingjay_local", device="cpu", s3prl_ckpt=str(path))
    assert not marker.exists()


def test_resolved_identity_is_checked_too(evil):
    path, marker = evil
    ident = ModelIdentity.resolve("mockingjay_local", s3prl_ckpt=str(path))
    with pytest.raises(PitchProbeError, match="--trust-checkpoint"):
        load_model(ident, device="cpu")
    assert not marker.exists()


def test_refusal_names_what_the_file_asks_pickle_for(tmp_path):
    path = tmp_path / "fairseq_like.pt"
    torch.save({"args": argparse.Namespace(arch="hubert"), "model": {"w": torch.zeros(1)}}, path)
    with pytest.raises(PitchProbeError, match=r"argparse\.Namespace.*--trust-checkpoint"):
        check_checkpoint(path)


@pytest.mark.parametrize("url", ["https://example.org/ckpt.pt", "http://10.0.0.1/mockingjay.ckpt"])
def test_url_checkpoint_is_refused_without_trust(url):
    with pytest.raises(PitchProbeError) as e:
        load_model("mockingjay_url", device="cpu", s3prl_ckpt=url)
    msg = str(e.value)
    assert url in msg and "Download it and pass the local file" in msg and "--trust-checkpoint" in msg


def test_url_checkpoint_passes_the_check_with_trust():
    check_s3prl_ckpt("https://example.org/ckpt.pt", trust_checkpoint=True)  # no network: only the check


def test_weights_only_checkpoint_passes_the_check(tmp_path):
    path = tmp_path / "ok.pt"
    torch.save({"x": torch.zeros(2), "config": {"layers": 3, "name": "tera"}, "steps": [1, 2]}, path)
    check_checkpoint(path)
    check_s3prl_ckpt(str(path))
    legacy = tmp_path / "legacy.pt"
    torch.save({"x": torch.ones(3)}, legacy, _use_new_zipfile_serialization=False)
    check_checkpoint(str(legacy))


def test_no_checkpoint_and_non_files_are_left_to_s3prl(tmp_path):
    check_s3prl_ckpt(None)
    check_s3prl_ckpt(str(tmp_path))  # a directory: a from_pretrained model of the hf_*_custom upstreams
    check_s3prl_ckpt("facebook/hubert-base-ls960")  # a Hub id, idem


@pytest.mark.parametrize(
    "content, kind",
    [(b"", "EOFError"), (b"hello, not a checkpoint\n", "KeyError"), (b"PK\x03\x04broken zip", "RuntimeError")],
)
def test_file_that_is_no_torch_file_gets_a_clear_error(tmp_path, content, kind):
    path = tmp_path / "junk.pt"
    path.write_bytes(content)
    with pytest.raises(PitchProbeError) as e:
        load_model("mockingjay_local", device="cpu", s3prl_ckpt=str(path))
    msg = str(e.value)
    assert msg.startswith(f"cannot read checkpoint {path} as a torch file: {kind}") and "\n" not in msg


def test_trust_skips_the_check_and_s3prl_reads_the_file_itself(tmp_path):
    # a weights-only-safe file that is no Mockingjay checkpoint: with trust, S3PRL opens it and fails on its own
    path = tmp_path / "bogus.pt"
    torch.save({"x": torch.zeros(2)}, path)
    with pytest.raises(PitchProbeError) as e:
        load_model("mockingjay_local", device="cpu", s3prl_ckpt=str(path), trust_checkpoint=True)
    assert str(e.value) == "cannot load S3PRL upstream 'mockingjay_local': KeyError: 'Config'"


def test_trust_lets_s3prl_unpickle_the_file(evil):
    path, marker = evil
    with pytest.raises(PitchProbeError, match="cannot load S3PRL upstream 'mockingjay_local'"):
        load_model("mockingjay_local", device="cpu", s3prl_ckpt=str(path), trust_checkpoint=True)
    assert marker.exists()  # S3PRL's own torch.load(weights_only=False) ran it: what the default prevents


def test_missing_local_checkpoint_is_a_clear_error(tmp_path):
    path = tmp_path / "nope.ckpt"
    with pytest.raises(PitchProbeError, match="cannot load S3PRL upstream 'mockingjay_local': AssertionError"):
        load_model("mockingjay_local", device="cpu", s3prl_ckpt=str(path))
