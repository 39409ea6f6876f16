"""Model identities and tags: stable, readable, unique, and independent of the disk they are computed on."""

import os

from pitchprobe.models.identity import ModelIdentity


def test_models_with_one_base_name_get_distinct_tags(tmp_path):
    (tmp_path / "a" / "hubert").mkdir(parents=True)
    (tmp_path / "b" / "hubert").mkdir(parents=True)
    names = ["hubert", str(tmp_path / "a" / "hubert"), str(tmp_path / "b" / "hubert")]
    tags = [ModelIdentity.resolve(n).tag for n in names]
    assert len(set(tags)) == 3
    assert tags[0] == "hubert"
    assert all(t.startswith("hubert-") for t in tags[1:])  # readable: base name, then a short hash


def test_tag_is_the_same_wherever_it_is_computed(tmp_path, monkeypatch):
    """A resolved identity carries an absolute path; its tag needs no file system (a compute node may lack it)."""
    (tmp_path / "ck" / "hubert").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    ident = ModelIdentity.resolve("ck/hubert")
    assert ident.name == os.path.join(str(tmp_path), "ck", "hubert")
    (tmp_path / "ck" / "hubert").rmdir()
    again = ModelIdentity(**{k: v for k, v in ident.as_dict().items() if k != "tag"})
    assert again.tag == ident.tag
    assert ModelIdentity.resolve(ident.name).tag == ident.tag


def test_hub_ids_and_random_controls():
    assert ModelIdentity.resolve("facebook/hubert-base-ls960").tag == "facebook--hubert-base-ls960"
    assert ModelIdentity.resolve("hubert", random_init=True).tag == "hubert-random"
    seeded = {ModelIdentity.resolve("hubert", random_init=True, seed=s).tag for s in (0, 1, 2)}
    assert len(seeded) == 3
    assert ModelIdentity.resolve("hubert", seed=5) == ModelIdentity.resolve("hubert")  # no random init: no seed
    with_ckpt = ModelIdentity.resolve("hubert_local", s3prl_ckpt="/x/a.pt").tag
    assert with_ckpt != ModelIdentity.resolve("hubert_local", s3prl_ckpt="/y/a.pt").tag
