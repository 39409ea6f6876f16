"""``gather --dry-run``: the disk a gather needs, from the TSVs alone."""

from pitchprobe.data.disk import disk_needed, disk_table
from pitchprobe.data.fleurs import LocalSource, gather_language
from pitchprobe.data.languages import Language
from pitchprobe.data.manifest import read_manifest


def test_disk_needed_matches_what_a_gather_keeps(tmp_path, corpus, table):
    langs = [table["zz_level"], table["zz_contour"], Language("zz_none", None, "None", "custom", "unknown")]
    needs = disk_needed(langs, source=LocalSource(corpus))
    assert not list(tmp_path.iterdir()), "a dry run writes nothing"
    for need in needs[:2]:
        s = gather_language(table[need.code], root=tmp_path, source=LocalSource(corpus))
        records = read_manifest(tmp_path, need.code)
        assert need.error is None and need.utterances == len(records)
        assert need.audio_seconds == sum(r["num_samples"] for r in records) / 16000
        assert need.audio_bytes == s.audio_bytes
        archives = sorted((corpus / "data" / need.code / "audio").glob("*.tar.gz"))
        assert need.archive_bytes == sum(p.stat().st_size for p in archives)
    assert "not found" in needs[2].error
    text = disk_table(needs)
    assert "zz_none" in text and "failed" in text and text.splitlines()[-1].startswith("total")
