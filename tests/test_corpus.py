import json
import tarfile

import pytest

from conftest import assert_clean_error, run_script
from poemnet.builders import corpus as builder
from poemnet.common import corpus
from poemnet.common.forms import FORMS

POEMS = {  # one of each form, written in traditional characters
    "五绝": ["床前明月光，疑是地上霜。", "舉頭望明月，低頭思故鄉。"],
    "七绝": ["朝辭白帝彩雲間，千里江陵一日還。", "兩岸猿聲啼不住，輕舟已過萬重山。"],
    "五律": [
        "國破山河在，城春草木深。",
        "感時花濺淚，恨別鳥驚心。",
        "烽火連三月，家書抵萬金。",
        "白頭搔更短，渾欲不勝簪。",
    ],
    "七律": [
        "風急天高猿嘯哀，渚清沙白鳥飛回。",
        "無邊落木蕭蕭下，不盡長江滾滾來。",
        "萬里悲秋常作客，百年多病獨登臺。",
        "艱難苦恨繁霜鬢，潦倒新停濁酒杯。",
    ],
}


def write_fixture(root):
    """A small chinese-poetry layout: the four forms, a duplicate, a 6-character line, a bad record."""
    folder = root / "dist" / "quantangshi"
    folder.mkdir(parents=True)
    tang = [{"author": "李白", "title": name, "paragraphs": lines} for name, lines in POEMS.items()]
    tang.append({"author": "李白", "title": "重出", "paragraphs": POEMS["五绝"]})  # duplicate text
    tang.append(
        {
            "author": "某",
            "title": "六言",
            "paragraphs": ["一二三四五六，一二三四五六。", "一二三四五六，一二三四五六。"],
        }
    )
    tang.append({"author": "某", "paragraphs": "not a list"})  # malformed
    tang.append(["not", "a", "record"])  # malformed
    (folder / "poet.tang.0.json").write_text(json.dumps(tang, ensure_ascii=False), encoding="utf-8")
    song = [
        {"author": "蘇軾", "title": "五绝簡體", "paragraphs": ["春眠不觉晓，处处闻啼鸟。", "夜来风雨声，花落知多少。"]}
    ]
    (folder / "poet.song.1000.json").write_text(json.dumps(song, ensure_ascii=False), encoding="utf-8")
    (folder / "authors.tang.json").write_text("[]", encoding="utf-8")  # not a poem file: ignored
    return root


def test_builder_keeps_regulated_poems_converts_and_dedupes(tmp_path):
    poems, report = builder.build(write_fixture(tmp_path / "pkg"))
    assert sorted(p.form for p in poems) == sorted(["五绝", "七绝", "五律", "七律", "五绝"])
    assert report["duplicates"] == 1 and report["malformed records"] == 2 and report["not regulated verse"] == 1
    quatrain = next(p for p in poems if p.title == "五绝")
    assert quatrain.text == "床前明月光，疑是地上霜。举头望明月，低头思故乡。"  # t2s applied
    assert {p.dynasty for p in poems} == {"唐", "宋"} and quatrain.author == "李白"
    assert all(FORMS[p.form].matches(p.text) for p in poems)


def test_builder_traditional_script_keeps_original_characters(tmp_path):
    poems, _ = builder.build(write_fixture(tmp_path / "pkg"), script="traditional")
    assert any("舉頭望明月" in p.text for p in poems)


def test_builder_cli_reads_tgz_and_writes_corpus_and_stats(tmp_path):
    write_fixture(tmp_path / "package")
    tgz = tmp_path / "chinese-poetry-0.0.1.tgz"
    with tarfile.open(tgz, "w:gz") as tar:
        tar.add(tmp_path / "package", arcname="package")
    out = tmp_path / "out.jsonl.gz"
    result = run_script(
        "-m", "poemnet.builders.corpus", "build", "--source", tgz, "--out", out, "--forms", "五绝", "七律"
    )
    assert result.returncode == 0, result.stderr
    loaded = corpus.load(out)
    assert sorted(p.form for p in loaded) == ["七律", "五绝", "五绝"]
    assert json.loads(corpus.stats_path(out).read_text(encoding="utf-8"))["poems"] == 3


@pytest.mark.parametrize("content, fragment", [(b'[{"paragraphs": ', "not valid JSON"), (b"\xff\xfe[]", "not UTF-8")])
def test_builder_names_a_broken_file(tmp_path, content, fragment):
    root = write_fixture(tmp_path / "pkg")
    (root / "dist" / "quantangshi" / "poet.song.2000.json").write_bytes(content)
    result = run_script("-m", "poemnet.builders.corpus", "build", "--source", root, "--out", tmp_path / "o.jsonl")
    assert_clean_error(result, "poet.song.2000.json", fragment)
    assert not (tmp_path / "o.jsonl").exists()


def test_builder_reports_a_missing_folder(tmp_path):
    result = run_script(
        "-m", "poemnet.builders.corpus", "build", "--source", tmp_path / "nope", "--out", tmp_path / "o.jsonl"
    )
    assert_clean_error(result, "does not exist")


def test_embedded_corpus_matches_the_builders_report():
    poems = corpus.load()
    report = json.loads(corpus.stats_path(corpus.EMBEDDED_CORPUS).read_text(encoding="utf-8"))
    computed = corpus.stats(poems)
    for key in ("poems", "by_form", "by_form_and_dynasty", "distinct_characters"):
        assert computed[key] == report[key], key
    assert corpus.EMBEDDED_CORPUS.stat().st_size < 2_000_000
    assert len({p.text for p in poems}) == len(poems)


def test_the_corpus_script_comes_from_the_builders_report(tmp_path):
    write_fixture(tmp_path / "pkg")
    out = tmp_path / "trad.jsonl"
    result = run_script(
        "-m", "poemnet.builders.corpus", "build", "--source", tmp_path / "pkg", "--out", out, "--script", "traditional"
    )
    assert result.returncode == 0, result.stderr
    assert corpus.script_of(out) == "traditional" and corpus.script_of() == "simplified"


@pytest.mark.parametrize(
    "raw, clean, changes",
    [
        ("送杜少府之任蜀州", "送杜少府之任蜀州", []),
        ("牡丹詩十首  其三", "牡丹詩", ["numbering removed"]),
        ("駕幸新豐溫泉宮獻詩三首 三", "駕幸新豐溫泉宮獻詩", ["numbering removed"]),
        ("无题二首之一", "无题", ["numbering removed"]),
        ("春晓（一作春眠）", "春晓", ["bracketed note removed"]),
        ("题·画", "题画", ["other characters removed"]),
        ("八月十五夜", "八月十五夜", []),  # numerals inside a title stay
        ("郊廟歌辭 明皇祀圜丘樂章 雍和", "郊廟歌辭明皇祀圜丘樂章雍", ["cut to 12 characters"]),
        ("二首之一", "", ["numbering removed", "empty"]),
    ],
)
def test_titles_are_cleaned_and_each_change_is_named(raw, clean, changes):
    assert builder.clean_title(raw) == (clean, changes)


def test_the_embedded_corpus_titles_are_clean_and_the_report_counts_the_changes():
    poems = corpus.load()
    report = json.loads(corpus.stats_path(corpus.EMBEDDED_CORPUS).read_text(encoding="utf-8"))["report"]
    assert all(builder.clean_title(p.title) == (p.title, [] if p.title else ["empty"]) for p in poems)
    assert report["titles: empty"] == sum(not p.title for p in poems)
    assert max(len(p.title) for p in poems) == builder.MAX_TITLE == 12
