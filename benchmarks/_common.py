"""Shared helpers of the benchmarks: a synthetic corpus, gathered (and labelled) into a data root."""

from __future__ import annotations

import contextlib
import resource
import shutil
import tempfile
import time
from pathlib import Path

CODE = "zz_contour"
MEAN_S = 5.0  # s, mean utterance length (duration_s below); synth adds up to a syllable
DURATION_S = (4.0, 6.0)  # s, range of target utterance lengths


@contextlib.contextmanager
def work_dir(explicit: str | None):
    """``explicit`` (created, kept) or a temporary folder (removed at the end)."""
    if explicit:
        path = Path(explicit).expanduser().resolve()
        path.mkdir(parents=True, exist_ok=True)
        yield path
    else:
        with tempfile.TemporaryDirectory(prefix="pitchprobe-bench-") as tmp:
            yield Path(tmp)


def split_counts(total_s: float, fractions: tuple[float, float, float] = (0.6, 0.2, 0.2)) -> dict[str, int]:
    """Utterances per split (train, dev, test) for about ``total_s`` seconds of audio in all."""
    counts = zip(("train", "dev", "test"), fractions)
    return {s: max(1, round(total_s * f / MEAN_S)) for s, f in counts if f > 0}


def describe(seconds: dict[str, float]) -> str:
    """``train 36.2 s, dev 12.0 s, test 11.8 s``."""
    return ", ".join(f"{s} {v:.1f} s" for s, v in seconds.items())


def build(root: Path, counts: dict[str, int], *, labels: bool, seed: int = 0) -> dict[str, float]:
    """Write the corpus under ``root/corpus``, gather it into ``root`` and optionally label it (all cores).

    What an earlier run left in ``root`` (corpus, audio, manifests, labels, results) is removed first, so
    a reused ``--work-dir`` never mixes sizes. Returns audio seconds per split (from the manifest).
    """
    from pitchprobe.data.fleurs import LocalSource, gather
    from pitchprobe.data.languages import load_table
    from pitchprobe.data.manifest import read_manifest
    from pitchprobe.data.synth import DEMO_LANGUAGES, write_corpus
    from pitchprobe.labels.make import make_labels

    for sub in ("corpus", "audio", "manifests", "labels", "results"):
        shutil.rmtree(root / sub, ignore_errors=True)
    langs = [lang for lang in DEMO_LANGUAGES if lang.code == CODE]
    corpus = write_corpus(
        root / "corpus", languages=langs, utterances_per_split=counts, duration_s=DURATION_S, seed=seed
    )
    table = load_table(corpus / "languages.tsv")
    (summary,) = gather([table[CODE]], root=root, source=LocalSource(corpus))
    if not summary.ok or summary.problems:
        raise RuntimeError(f"gather: {summary.failure or summary.problems}")
    if labels:
        s = make_labels(CODE, root=root, progress=False)
        if s.failed:
            raise RuntimeError(f"labels failed: {s.failed}")
    seconds: dict[str, float] = {}
    for rec in read_manifest(root, CODE):
        seconds[rec["split"]] = seconds.get(rec["split"], 0.0) + rec["duration"]
    return seconds


def hubert_dir(root: Path) -> Path:
    """A ``save_pretrained`` folder with only the HuBERT-base config (no weights, no download)."""
    from transformers import HubertConfig

    path = root / "hubert-base-config"
    if not (path / "config.json").is_file():
        HubertConfig().save_pretrained(path)
    return path


def load_backend(model: str, root: Path):
    """``fbank`` or a random-init HuBERT-base on the CPU."""
    from pitchprobe.models import load_model

    if model == "fbank":
        return load_model("fbank", device="cpu")
    return load_model(str(hubert_dir(root)), random_init=True, device="cpu")


def peak_rss_mib() -> float:
    """Peak resident set size of this process so far, MiB (``ru_maxrss`` is KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(fn, *args, **kwargs):
    """``(result, wall seconds)`` of ``fn(*args, **kwargs)``."""
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t0
