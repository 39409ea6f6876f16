import hashlib
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import tarfile
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from pitchprobe.core.atomic import is_temporary, read_jsonl
from pitchprobe.core.errors import PitchProbeError
from pitchprobe.core.layout import language_lock
from pitchprobe.core.lock import file_lock
from pitchprobe.data.fleurs import (
    HubSource,
    LocalSource,
    gather,
    gather_language,
    max_member_bytes,
    read_tsv,
    safe_extract,
)
from pitchprobe.data.languages import Language
from pitchprobe.data.owncorpus import gather_folder, split_of
from tests.conftest import TINY, write_bad_files

FIELDS = {"id", "path", "split", "num_samples", "duration", "sampling_rate", "gender", "code", "lang_id"}


def test_manifest_from_a_local_fleurs_folder(tmp_path, corpus, table):
    s = gather_language(table["zz_level"], root=tmp_path, source=LocalSource(corpus))
    assert s.kept == TINY and s.problems == [] and s.failed_splits == {} and s.ok
    assert s.manifest == tmp_path / "manifests" / "zz_level.jsonl"
    records = read_jsonl(tmp_path / "manifests" / "zz_level.jsonl")
    assert len(records) == sum(TINY.values())
    # FLEURS' own format (float32, 58-byte header: see ../shared/data/fleurs-examples), not the synthetic 16-bit files
    assert s.audio_bytes == sum(58 + 4 * r["num_samples"] for r in records)
    assert s.audio_bytes > sum(os.path.getsize(r["path"]) for r in records)
    tsv = read_tsv(corpus / "data" / "zz_level" / "test.tsv")
    for rec in records:
        assert FIELDS | {"lang_group", "tone_class", "fleurs_id"} <= rec.keys()
        info = sf.info(rec["path"])
        assert info.samplerate == rec["sampling_rate"] == 16000 and info.frames == rec["num_samples"]
        assert rec["duration"] == rec["num_samples"] / 16000
        assert (rec["code"], rec["lang_id"], rec["tone_class"]) == ("zz_level", 2, "tonal")
    assert {r["id"] for r in records if r["split"] == "test"} == {row["file_name"][:-4] for row in tsv}


def test_gender_filter_and_restart_without_reextracting(tmp_path, corpus, table):
    lang = table["zz_contour"]
    gather_language(lang, root=tmp_path, source=LocalSource(corpus))
    wav = next((tmp_path / "audio" / "zz_contour" / "train").glob("*.wav"))
    before = wav.stat().st_mtime_ns
    s = gather_language(lang, root=tmp_path, source=LocalSource(corpus), gender="female")
    assert s.extracted == []
    assert wav.stat().st_mtime_ns == before
    records = read_jsonl(tmp_path / "manifests" / "zz_contour.jsonl")
    rows = [r for split in ("train", "dev", "test") for r in read_tsv(corpus / "data" / "zz_contour" / f"{split}.tsv")]
    assert len(records) == sum(r["gender"] == "FEMALE" for r in rows) > 0
    assert {r["gender"] for r in records} == {"FEMALE"}


def _tar_with(tmp_path, members):
    path = tmp_path / "evil.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for name, kind in members:
            info = tarfile.TarInfo(name)
            if kind == "link":
                info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
                tar.addfile(info)
            else:
                info.size = 4
                tar.addfile(info, io.BytesIO(b"data"))
    return path


@pytest.mark.parametrize(
    "members",
    [
        [("train/../../escape.wav", "file")],
        [("/abs/escape.wav", "file")],
        [("train/link.wav", "link")],
        [("elsewhere/x.wav", "file")],
    ],
)
def test_extraction_refuses_members_that_escape(tmp_path, members):
    target = tmp_path / "out"
    with pytest.raises(PitchProbeError):
        safe_extract(_tar_with(tmp_path, members), target, member_prefix="train", wanted={"x.wav": 1 << 20})
    assert not (tmp_path / "escape.wav").exists() and not list(target.rglob("*.wav"))


def test_hub_source_downloads_through_huggingface_hub(tmp_path, corpus):
    """The real hf_hub_download, served offline from a cache in the Hub's own layout."""
    snap = tmp_path / "hub" / "datasets--google--fleurs" / "snapshots" / ("a" * 40)
    shutil.copytree(corpus / "data" / "zz_level", snap / "data" / "zz_level")
    (tmp_path / "hub" / "datasets--google--fleurs" / "refs").mkdir(parents=True)
    (tmp_path / "hub" / "datasets--google--fleurs" / "refs" / "main").write_text("a" * 40)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(tmp_path / "hub")}
    code = (
        "import sys; from pathlib import Path\n"
        "from pitchprobe.cli.main import main\n"
        "sys.exit(main(['gather', 'zz_level', '--data-dir', sys.argv[1], '--languages', sys.argv[2], '-q']))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "d"), str(corpus / "languages.tsv")],
        env=env,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert len(read_jsonl(tmp_path / "d" / "manifests" / "zz_level.jsonl")) == sum(TINY.values())


def test_own_recordings_become_a_corpus(tmp_path):
    src = tmp_path / "recordings"
    (src / "sub").mkdir(parents=True)
    t = np.arange(44100 * 2) / 44100
    tone = 0.3 * np.sin(2 * np.pi * 220 * t)
    sf.write(src / "a.wav", np.stack([tone, tone], 1), 44100)
    sf.write(src / "sub" / "b.flac", 0.3 * np.sin(2 * np.pi * 150 * np.arange(16000) / 16000), 16000)
    write_bad_files(src / "bad")
    records, failures = gather_folder(src, name="mine", root=tmp_path / "d", ratios=(1, 1, 1))
    by_id = {r["id"]: r for r in records}
    assert set(by_id) >= {"a", "sub__b", "bad__stereo44k", "bad__short"}
    data, rate = sf.read(by_id["a"]["path"])
    assert rate == 16000 and data.ndim == 1 and data.size == 32000
    assert by_id["a"]["split"] == split_of("a.wav", (1, 1, 1))
    assert {f["path"].rsplit("/", 1)[1] for f in failures} == {"corrupt.wav", "empty.wav"}
    assert [r["id"] for r in read_jsonl(tmp_path / "d" / "manifests" / "mine.jsonl")] == [r["id"] for r in records]


def test_split_assignment_is_deterministic_and_follows_ratios():
    names = [f"spk{i}/utt{i}.wav" for i in range(3000)]
    splits = [split_of(n, (0.8, 0.1, 0.1)) for n in names]
    assert splits == [split_of(n, (0.8, 0.1, 0.1)) for n in names]
    frac = splits.count("train") / len(splits)
    assert 0.77 < frac < 0.83


# --- robustness of gathering: archives, TSVs, locks, failures, deleting archives ---

CODE = "zz_test"


def _lang(code=CODE):
    return Language(code=code, lang_id=99, language="Test", lang_group="test", tone_class="unknown")


def _wav(n: int) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, 0.1 * np.sin(np.arange(n) / 5.0), 16000, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def _row(name, n, *, fleurs_id=0, gender="FEMALE") -> str:
    return f"{fleurs_id}\t{name}\tRaw text.\traw text\tr a w | t e x t\t{n}\t{gender}\n"


class _Zeros(io.RawIOBase):
    """``n`` zero bytes, produced while read."""

    def __init__(self, n):
        self.left = n

    def readable(self):
        return True

    def readinto(self, b):
        k = min(len(b), self.left)
        b[:k] = bytes(k)
        self.left -= k
        return k


def _source(tmp_path, rows, members, *, split="train", code=CODE) -> LocalSource:
    """A one-split FLEURS folder: ``rows`` (TSV lines, str or bytes), ``members`` ((name, bytes or size of zeros))."""
    base = tmp_path / "src" / "data" / code
    (base / "audio").mkdir(parents=True, exist_ok=True)
    tsv = "".join(rows) if all(isinstance(r, str) for r in rows) else b"".join(rows)
    (base / f"{split}.tsv").write_bytes(tsv.encode() if isinstance(tsv, str) else tsv)
    with tarfile.open(base / "audio" / f"{split}.tar.gz", "w:gz", compresslevel=1) as tar:
        for name, data in members:
            info = tarfile.TarInfo(f"{split}/{name}")
            if isinstance(data, int):
                info.size = data
                tar.addfile(info, io.BufferedReader(_Zeros(data), 1 << 20))
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return LocalSource(tmp_path / "src")


def _files(folder):
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def _manifest_ids(root, code=CODE):
    return [r["id"] for r in read_jsonl(root / "manifests" / f"{code}.jsonl")]


def test_unlisted_members_and_a_gzip_bomb_are_never_written(tmp_path):
    rows = [_row("a.wav", 16000)]
    members = [("a.wav", _wav(16000)), ("bomb.wav", 200 << 20), ("extra.wav", _wav(800))]
    src = _source(tmp_path, rows, members)
    root = tmp_path / "d"
    s = gather_language(_lang(), root=root, source=src, splits=("train",))
    assert _files(root / "audio" / CODE) == ["train/.extracted", "train/a.wav"]
    assert sum(p.stat().st_size for p in root.rglob("*") if p.is_file()) < 100_000
    assert s.ok and s.kept == {"train": 1} and s.problems == [] and s.audio_bytes == 58 + 4 * 16000
    ex = safe_extract(src.fetch(f"data/{CODE}/audio/train.tar.gz"), tmp_path / "x", member_prefix="train", wanted={})
    assert (ex.written, ex.skipped, ex.problems) == (0, 3, {}) and _files(tmp_path / "x") == []


def test_a_listed_member_larger_than_its_row_allows_is_refused(tmp_path):
    rows = [_row("ok.wav", 8000), _row("big.wav", 100)]  # big.wav may have 8 * 100 + 64 KiB bytes
    src = _source(tmp_path, rows, [("ok.wav", _wav(8000)), ("big.wav", _wav(100_000))])
    assert max_member_bytes(100) == 8 * 100 + 65536 < len(_wav(100_000))
    root = tmp_path / "d"
    s = gather_language(_lang(), root=root, source=src, splits=("train",))
    assert s.ok and s.kept == {"train": 1} and _manifest_ids(root) == ["ok"]
    assert len(s.problems) == 1 and "big.wav" in s.problems[0]
    assert _files(root / "audio" / CODE) == ["train/.extracted", "train/ok.wav"]  # no temporary left either
    with pytest.raises(PitchProbeError, match="big.wav"):
        gather_language(_lang(), root=tmp_path / "d2", source=src, splits=("train",), fail_fast=True)
    assert not (tmp_path / "d2" / "manifests").exists()


@pytest.mark.parametrize("name", ["sub/x.wav", "sub\\x.wav", "..", "", "/abs.wav"])
def test_a_file_name_that_is_a_path_is_refused(tmp_path, name):
    rows = [_row(name, 800), _row("good.wav", 800)]
    src = _source(tmp_path, rows, [("good.wav", _wav(800)), ("sub/x.wav", _wav(800))])
    root = tmp_path / "d"
    s = gather_language(_lang(), root=root, source=src, splits=("train",))
    assert s.ok and s.kept == {"train": 1} and _manifest_ids(root) == ["good"]
    assert len(s.problems) == 1 and repr(name) in s.problems[0] and "refused" in s.problems[0]
    assert _files(root / "audio" / CODE) == ["train/.extracted", "train/good.wav"]


def test_duplicate_rows_are_reported_and_kept_once(tmp_path):
    rows = [_row("a.wav", 800, fleurs_id=1), _row("b.wav", 800, fleurs_id=2), _row("a.wav", 800, fleurs_id=3)]
    src = _source(tmp_path, rows, [("a.wav", _wav(800)), ("b.wav", _wav(800))])
    root = tmp_path / "d"
    s = gather_language(_lang(), root=root, source=src, splits=("train",))
    records = read_jsonl(root / "manifests" / f"{CODE}.jsonl")
    assert [(r["id"], r["fleurs_id"]) for r in records] == [("a", "1"), ("b", "2")]
    assert s.kept == {"train": 2} and len(s.problems) == 1 and "a.wav" in s.problems[0]
    with pytest.raises(PitchProbeError, match="a.wav"):
        gather_language(_lang(), root=tmp_path / "d2", source=src, splits=("train",), fail_fast=True)


def test_rows_missing_from_the_archive_stay_out_of_the_manifest(tmp_path):
    src = _source(tmp_path, [_row("a.wav", 800), _row("gone.wav", 800)], [("a.wav", _wav(800))])
    root = tmp_path / "d"
    s = gather_language(_lang(), root=root, source=src, splits=("train",))
    assert s.ok and s.kept == {"train": 1} and _manifest_ids(root) == ["a"]
    assert len(s.problems) == 1 and "gone.wav" in s.problems[0]
    with pytest.raises(PitchProbeError, match="gone.wav"):
        gather_language(_lang(), root=tmp_path / "d2", source=src, splits=("train",), fail_fast=True)
    assert not (tmp_path / "d2" / "manifests").exists()


def _mirror(tmp_path, corpus, codes=("zz_level", "zz_contour")) -> Path:
    """A copy of some languages of ``corpus``, to spoil."""
    for code in codes:
        shutil.copytree(corpus / "data" / code, tmp_path / "mirror" / "data" / code)
    return tmp_path / "mirror"


def test_a_truncated_archive_fails_only_its_split(tmp_path, corpus, table):
    mirror = _mirror(tmp_path, corpus)
    archive = mirror / "data" / "zz_level" / "audio" / "train.tar.gz"
    good = archive.read_bytes()
    archive.write_bytes(good[: len(good) // 2])
    root = tmp_path / "d"
    s = gather_language(table["zz_level"], root=root, source=LocalSource(mirror))
    assert not s.ok and s.manifest is None and not (root / "manifests" / "zz_level.jsonl").exists()
    assert list(s.failed_splits) == ["train"] and "train.tar.gz" in s.failed_splits["train"]
    assert s.extracted == ["dev", "test"] and s.kept == {"dev": TINY["dev"], "test": TINY["test"]}
    assert not (root / "audio" / "zz_level" / "train" / ".extracted").exists()
    assert (root / "audio" / "zz_level" / "dev" / ".extracted").is_file()
    before = {p.name: p.stat().st_mtime_ns for p in (root / "audio" / "zz_level" / "train").glob("*.wav")}
    assert 0 < len(before) < TINY["train"]  # what came before the cut is extracted, and complete
    both = gather([table["zz_level"], table["zz_contour"]], root=root, source=LocalSource(mirror))
    assert [x.ok for x in both] == [False, True] and list(both[0].failed_splits) == ["train"]
    assert len(read_jsonl(root / "manifests" / "zz_contour.jsonl")) == sum(TINY.values())
    with pytest.raises(PitchProbeError, match="train.tar.gz"):
        gather([table["zz_level"]], root=root, source=LocalSource(mirror), fail_fast=True)
    archive.write_bytes(good)  # downloaded again: the rerun completes the split and keeps what it had
    s = gather_language(table["zz_level"], root=root, source=LocalSource(mirror))
    assert s.ok and s.extracted == ["train"] and s.kept == TINY
    for name, mtime in before.items():
        assert (root / "audio" / "zz_level" / "train" / name).stat().st_mtime_ns == mtime


@pytest.mark.parametrize(
    "spoil, message",
    [
        (lambda cols: cols[:5] + ["12x"] + cols[6:], "num_samples"),
        (lambda cols: [cols[0], cols[1] + "\udcff"] + cols[2:], "not UTF-8"),
        (lambda cols: cols[:4], "columns"),
    ],
    ids=["num_samples", "utf8", "columns"],
)
def test_a_malformed_tsv_fails_only_its_language(tmp_path, corpus, table, spoil, message):
    mirror = _mirror(tmp_path, corpus)
    tsv = mirror / "data" / "zz_level" / "dev.tsv"
    lines = tsv.read_text(encoding="utf-8").splitlines(keepends=True)
    lines[1] = "\t".join(spoil(lines[1].rstrip("\n").split("\t"))) + "\n"
    tsv.write_bytes("".join(lines).encode("utf-8", "surrogateescape"))
    with pytest.raises(PitchProbeError, match=f"dev.tsv:2: .*{message}"):
        read_tsv(tsv)
    root = tmp_path / "d"
    both = gather([table["zz_level"], table["zz_contour"]], root=root, source=LocalSource(mirror))
    assert [x.ok for x in both] == [False, True] and list(both[0].failed_splits) == ["dev"]
    assert "dev.tsv:2" in both[0].failed_splits["dev"] and both[0].kept == {"train": 6, "test": 3}
    assert not (root / "manifests" / "zz_level.jsonl").exists()
    assert (root / "manifests" / "zz_contour.jsonl").is_file()


class _Breaking(LocalSource):
    """A local source whose fetches of one language raise ``error``."""

    def __init__(self, root, *, code, error):
        super().__init__(root)
        self.code, self.error = code, error

    def fetch(self, relpath):
        if relpath.startswith(f"data/{self.code}/"):
            raise self.error
        return super().fetch(relpath)


def test_gather_contains_any_error_of_one_language(tmp_path, corpus, table):
    langs = [table["zz_level"], table["zz_contour"]]
    src = _Breaking(corpus, code="zz_level", error=ConnectionResetError(104, "Connection reset by peer"))
    both = gather(langs, root=tmp_path / "d", source=src)
    assert both[0].error == "ConnectionResetError: [Errno 104] Connection reset by peer" and not both[0].ok
    assert both[1].ok and both[1].error is None and both[1].kept == TINY
    src.error = RuntimeError("boom")
    assert gather(langs, root=tmp_path / "d", source=src)[0].error == "RuntimeError: boom"
    with pytest.raises(PitchProbeError, match="zz_level: RuntimeError: boom"):
        gather(langs, root=tmp_path / "d", source=src, fail_fast=True)
    src.error = KeyboardInterrupt()
    with pytest.raises(KeyboardInterrupt):
        gather(langs, root=tmp_path / "d", source=src)


class _ClosingServer:
    """A TCP server on localhost that closes every connection without answering."""

    def __enter__(self):
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def _serve(self):
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            conn.close()

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()
        self.sock.close()


def test_hub_network_errors_become_pitchprobe_errors(tmp_path, corpus):
    """The real hf_hub_download against a server that hangs up: its raw HTTP-client error is turned into ours."""
    code = (
        "import sys; from pathlib import Path\n"
        "from pitchprobe.core.errors import PitchProbeError\n"
        "from pitchprobe.data.fleurs import HubSource, gather\n"
        "from pitchprobe.data.languages import load_table\n"
        "try:\n"
        "    HubSource().fetch('data/zz_level/train.tsv')\n"
        "except PitchProbeError as e:\n"
        "    print('PitchProbeError:', e)\n"
        "table = load_table(sys.argv[1])\n"
        "for s in gather([table['zz_level'], table['zz_contour']], root=Path(sys.argv[2]), source=HubSource()):\n"
        "    print(s.code, s.ok, sorted(s.failed_splits))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
    with _ClosingServer() as endpoint:
        env |= {"HF_ENDPOINT": endpoint, "HF_HOME": str(tmp_path / "hf"), "HF_HUB_DISABLE_IMPLICIT_TOKEN": "1"}
        proc = subprocess.run(
            [sys.executable, "-c", code, str(corpus / "languages.tsv"), str(tmp_path / "d")],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.splitlines()
    assert out[0].startswith("PitchProbeError: cannot fetch data/zz_level/train.tsv from google/fleurs: ")
    assert out[1:] == ["zz_level False ['dev', 'test', 'train']", "zz_contour False ['dev', 'test', 'train']"]


def test_concurrent_gathers_of_one_language_extract_once(tmp_path, corpus):
    """Two processes start while the language is locked; each waits, one extracts, the other finds it done."""
    root = tmp_path / "d"
    code = (
        "import json, sys; from pathlib import Path\n"
        "from pitchprobe.data.fleurs import LocalSource, gather_language\n"
        "from pitchprobe.data.languages import load_table\n"
        "lang = load_table(sys.argv[1])['zz_level']\n"
        "s = gather_language(lang, root=Path(sys.argv[2]), source=LocalSource(sys.argv[3]))\n"
        "print(json.dumps({'ok': s.ok, 'extracted': s.extracted, 'kept': s.kept}))\n"
    )
    args = [sys.executable, "-c", code, str(corpus / "languages.tsv"), str(root), str(corpus)]
    logs = [tmp_path / f"err{i}.txt" for i in range(2)]
    with file_lock(language_lock(root, "zz_level"), what="the test", quiet=True):
        procs = []
        for log in logs:
            with open(log, "w") as err:
                procs.append(subprocess.Popen(args, stdout=subprocess.PIPE, stderr=err, text=True))
        deadline = time.monotonic() + 60
        while not all("waiting for" in log.read_text() for log in logs):
            assert time.monotonic() < deadline and all(p.poll() is None for p in procs), [x.read_text() for x in logs]
            time.sleep(0.05)
        assert not (root / "audio").exists()
    outs = [json.loads(p.communicate(timeout=120)[0]) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [x.read_text() for x in logs]
    assert sorted(o["extracted"] for o in outs) == [[], ["train", "dev", "test"]]
    assert all(o["ok"] and o["kept"] == TINY for o in outs)
    records = read_jsonl(root / "manifests" / "zz_level.jsonl")
    assert len(records) == len({r["id"] for r in records}) == sum(TINY.values())
    wavs = [p for p in (root / "audio" / "zz_level").rglob("*") if p.is_file() and p.name != ".extracted"]
    assert sorted(str(p) for p in wavs) == sorted(r["path"] for r in records)


def test_stale_temporaries_are_removed_by_the_next_gather(tmp_path, corpus, table):
    root = tmp_path / "d"
    gather_language(table["zz_level"], root=root, source=LocalSource(corpus))
    train = root / "audio" / "zz_level" / "train"
    wavs = sorted(train.glob("*.wav"))
    stale = [train / ".1234.wav.k3j4h5.tmp.wav", root / "audio" / "zz_level" / "test" / ".x.wav.abcdef.tmp.wav"]
    for p in stale:
        p.write_bytes(b"half a file")
    s = gather_language(table["zz_level"], root=root, source=LocalSource(corpus))
    assert s.ok and s.extracted == [] and not any(p.exists() for p in stale)
    assert sorted(train.glob("*.wav")) == wavs and not [p for p in root.rglob("*") if is_temporary(p)]


def _hub_cache(hub: Path, corpus: Path, code: str) -> Path:
    """Put ``data/<code>/`` of ``corpus`` in a Hugging Face cache laid out as hf_hub_download leaves it."""
    repo = hub / "datasets--google--fleurs"
    snap = repo / "snapshots" / ("a" * 40)
    for src in sorted((corpus / "data" / code).rglob("*")):
        if src.is_file():
            data = src.read_bytes()
            blob = repo / "blobs" / hashlib.sha256(data).hexdigest()
            blob.parent.mkdir(parents=True, exist_ok=True)
            blob.write_bytes(data)
            link = snap / src.relative_to(corpus)
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(os.path.relpath(blob, link.parent))
    (repo / "refs").mkdir(exist_ok=True)
    (repo / "refs" / "main").write_text("a" * 40)
    return snap


class _CachedHub(HubSource):
    """A HubSource whose downloads are already in a cache folder (the real release)."""

    def __init__(self, snapshot):
        super().__init__()
        self.snapshot = snapshot

    def fetch(self, relpath):
        return self.snapshot / relpath


def test_delete_archives_deletes_verified_archives_from_the_hub_cache(tmp_path, corpus, table):
    mirror = _mirror(tmp_path, corpus, ["zz_level"])
    with open(mirror / "data" / "zz_level" / "dev.tsv", "a", encoding="utf-8") as f:
        f.write(_row("2000000000.wav", 800))  # dev lists a file its archive lacks: dev is not verified
    snap = _hub_cache(tmp_path / "hub", mirror, "zz_level")
    blobs = {p.name: p.resolve() for p in (snap / "data" / "zz_level" / "audio").iterdir()}
    tsvs = [snap / "data" / "zz_level" / f"{split}.tsv" for split in ("train", "dev", "test")]
    s = gather_language(table["zz_level"], root=tmp_path / "d", source=_CachedHub(snap), delete_archives=True)
    assert s.ok and len(s.problems) == 1 and "2000000000.wav" in s.problems[0]
    assert s.deleted == ["data/zz_level/audio/train.tar.gz", "data/zz_level/audio/test.tar.gz"]
    for split in ("train", "test"):
        assert not blobs[f"{split}.tar.gz"].exists()
        assert not os.path.lexists(snap / "data" / "zz_level" / "audio" / f"{split}.tar.gz")
    assert blobs["dev.tar.gz"].is_file() and (snap / "data" / "zz_level" / "audio" / "dev.tar.gz").is_file()
    assert all(p.is_file() for p in tsvs)
    assert len(read_jsonl(tmp_path / "d" / "manifests" / "zz_level.jsonl")) == sum(TINY.values())
    loose = tmp_path / "loose.tar.gz"  # not in a cache's snapshots/: never deleted
    loose.write_bytes(b"x")
    assert HubSource().release("data/x/audio/train.tar.gz", loose) is False and loose.is_file()


def test_delete_archives_never_touches_a_local_source(tmp_path, corpus, table):
    mirror = _mirror(tmp_path, corpus, ["zz_level"])
    before = {p: p.read_bytes() for p in mirror.rglob("*") if p.is_file()}
    s = gather_language(table["zz_level"], root=tmp_path / "d", source=LocalSource(mirror), delete_archives=True)
    assert s.ok and s.deleted == [] and s.kept == TINY
    assert {p: p.read_bytes() for p in mirror.rglob("*") if p.is_file()} == before


def test_delete_archives_through_the_real_hub_cache(tmp_path, corpus):
    """Real hf_hub_download, offline: a fresh gather deletes what it fetched; a later one finds earlier archives."""
    for code in ("zz_level", "zz_contour"):
        _hub_cache(tmp_path / "hub", corpus, code)
    code = (
        "import json, sys; from pathlib import Path\n"
        "from pitchprobe.data.fleurs import HubSource, gather_language\n"
        "from pitchprobe.data.languages import load_table\n"
        "table, root = load_table(sys.argv[1]), Path(sys.argv[2])\n"
        "runs = [('zz_level', True), ('zz_contour', False), ('zz_contour', True), ('zz_contour', True)]\n"
        "for c, delete in runs:\n"
        "    s = gather_language(table[c], root=root, source=HubSource(), delete_archives=delete)\n"
        "    print(json.dumps([s.ok, s.extracted, s.deleted]))\n"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(tmp_path / "hub")}
    proc = subprocess.run(
        [sys.executable, "-c", code, str(corpus / "languages.tsv"), str(tmp_path / "d")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    archives = {c: [f"data/{c}/audio/{s}.tar.gz" for s in ("train", "dev", "test")] for c in ("zz_level", "zz_contour")}
    assert [json.loads(line) for line in proc.stdout.splitlines()] == [
        [True, ["train", "dev", "test"], archives["zz_level"]],
        [True, ["train", "dev", "test"], []],
        [True, [], archives["zz_contour"]],
        [True, [], []],
    ]
    repo = tmp_path / "hub" / "datasets--google--fleurs"
    assert not list(repo.rglob("*.tar.gz")) and len(list((repo / "blobs").iterdir())) == 6  # the TSVs stay
