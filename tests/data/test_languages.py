import pytest

from pitchprobe.core.errors import UnknownNameError
from pitchprobe.data.languages import load_table, resolve


def test_packaged_table_has_all_fleurs_languages_in_lang_id_order():
    table = load_table()
    assert len(table) == 102
    codes = sorted(table)
    assert [table[c].lang_id for c in codes] == list(range(102))
    assert table["en_us"].lang_id == 19
    assert table["cmn_hans_cn"].lang_id == 13
    assert table["cmn_hans_cn"].tone_class == "tonal"


def test_resolve_codes_ids_and_all():
    table = load_table()
    got = resolve(["en_us", "13", 19], table)
    assert [lang.code for lang in got] == ["en_us", "cmn_hans_cn"]  # duplicates dropped, order kept
    assert len(resolve("all", table)) == 102


def test_unknown_language_lists_valid_ones():
    with pytest.raises(UnknownNameError) as e:
        resolve(["klingon"], load_table())
    msg = str(e.value)
    assert "klingon" in msg and "en_us (19)" in msg and "cmn_hans_cn (13)" in msg
    with pytest.raises(UnknownNameError):
        resolve(["102"], load_table())


def test_user_table_overrules(tmp_path, monkeypatch):
    path = tmp_path / "langs.tsv"
    path.write_text("lang_id\tcode\tlanguage\tlang_group_id\tlang_group\ttone_class\n0\tyo_ng\tYoruba\t3\tssa\ttonal\n")
    monkeypatch.setenv("PITCHPROBE_LANGUAGES", str(path))
    table = load_table()
    assert list(table) == ["yo_ng"] and table["yo_ng"].tone_class == "tonal"
