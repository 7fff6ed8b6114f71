"""The verse measures of `evaluate`, on hand-made poems, and its report."""

import json

import pytest

from conftest import run_script
from poemnet.common.forms import FORMS
from poemnet.common.naturalness import LineEnds, line_ends
from poemnet.evaluate import Tables, metrics
from poemnet.generation.verse_check import ambiguous_end, repeats_rhyme

JUE = FORMS["五绝"]
LU = FORMS["五律"]
# 王之涣《登鹳雀楼》 and variants: 流/楼 rhyme (十一尤); 尽 is 仄-only, 思 and 看 either, 天 平-only
DENGLOU = "白日依山尽，黄河入海流。欲穷千里目，更上一层楼。"


def test_repeated_rhyme_is_one_character_ending_two_rhyming_lines():
    assert not repeats_rhyme(DENGLOU, JUE)
    assert repeats_rhyme("白日依山尽，黄河入海流。欲穷千里目，更上一江流。", JUE)
    assert repeats_rhyme("江上水长流，黄河入海流。欲穷千里目，更上一层楼。", JUE)  # line 1 rhymes: it counts
    assert not repeats_rhyme("白日依山尽，黄河入海流。欲穷千里尽，更上一层楼。", JUE)  # 尽 twice, unrhymed


def test_an_ambiguous_end_is_a_ping_reading_where_a_line_must_not_rhyme():
    assert not ambiguous_end(DENGLOU, JUE)
    assert ambiguous_end("白日依山尽，黄河入海流。欲穷千里思，更上一层楼。", JUE)  # 思: 平 or 仄
    assert ambiguous_end("白日依山尽，黄河入海流。欲穷千里天，更上一层楼。", JUE)  # 天: 平 only, line 3
    assert ambiguous_end("白日依山看，黄河入海流。欲穷千里目，更上一层楼。", JUE)  # line 1: either
    assert not ambiguous_end("白日依山天，黄河入海流。欲穷千里目，更上一层楼。", JUE)  # line 1 may rhyme
    lu = DENGLOU + "长风万里思，明月照高楼。回首江南路，孤舟不系留。"
    assert ambiguous_end(lu, LU) and not ambiguous_end(lu.replace("里思", "里去"), LU)  # line 5 too


def test_natural_ends_are_line_ends_the_training_poems_wrote_at_least_twice():
    table = LineEnds.from_poems([DENGLOU, DENGLOU, "春眠不觉晓，处处闻啼鸟。夜来风雨声，花落知多少。"])
    assert line_ends(DENGLOU) == ["山尽", "海流", "里目", "层楼"]
    assert table.natural("层楼") and not table.natural("啼鸟")  # seen twice / once
    poem = "白日依山尽，处处闻啼鸟。欲穷千里目，春风十里楼。"  # 山尽 里目 natural; 啼鸟 once; 里楼 never
    assert table.share([poem]) == pytest.approx(2 / 4)
    assert table.share([poem], lines={1, 3}) == 0.0 and table.share([DENGLOU], lines={1, 3}) == 1.0
    assert table.share([]) is None


def test_the_verse_columns_measure_each_poem_and_parallel_only_where_the_corpus_has_lushi():
    lushi = "国破山河在，城春草木深。感时花溅泪，恨别鸟惊心。烽火连三月，家书抵万金。白头搔更短，浑欲不胜簪。"
    tables = Tables([lushi, lushi, DENGLOU])
    row = metrics([lushi], LU, set(), tables=tables)
    assert row["parallel_middle"] == 1.0 and row["parallel_outer"] == 0.0  # its own pairs, seen twice
    assert row["natural_ends"] == 1.0 and row["repeated_rhyme"] == 0.0
    unpaired = lushi.replace("恨别鸟惊心", "无人到此处")
    assert metrics([unpaired], LU, set(), tables=tables)["parallel_middle"] == pytest.approx(5 / 10)
    jue = metrics([DENGLOU], JUE, set(), tables=tables)
    assert "parallel_middle" not in jue and jue["ambiguous_ends"] == 0.0 and jue["natural_ends"] == 0.0  # seen once
    assert "parallel_middle" not in metrics([lushi], LU, set(), tables=Tables([DENGLOU]))  # no 律诗: no pairs
    assert "natural_ends" not in metrics([lushi], LU, set())  # the columns need the tables


def test_evaluate_reports_the_verse_columns_per_form_and_decoding(tmp_path):
    out = tmp_path / "eval.json"
    presets = ["plain", "all", "all+parallel", "all-no-lookahead"]
    args = ["--n", "6", "--forms", "五绝", "七律", "--presets", *presets, "--reference", "50", "--out", out]
    result = run_script("-m", "poemnet.evaluate", *args, "--corpus", "embedded")
    assert result.returncode == 0, result.stderr
    rows = {(r["form"], r["preset"]): r for r in json.loads(out.read_text(encoding="utf-8"))["rows"]}
    assert set(rows) == {
        ("五绝", "human (validation)"),
        *(("五绝", p) for p in presets if p != "all+parallel"),  # a 绝句 has no middle couplets
        *(("七律", p) for p in presets),  # the embedded corpus has no 七律: no human row
    }
    for (_, preset), row in rows.items():
        assert row["natural_ends"] is not None and row["ambiguous_ends"] is not None, row
        if preset.startswith("all"):  # the rules allow neither fault
            assert row["repeated_rhyme"] == 0.0 and row["ambiguous_ends"] == 0.0, row
        assert "parallel_middle" not in row  # the embedded corpus has no 律诗 to learn pairs from
    header = result.stdout.splitlines()[0]
    for title in ("重韵", "ambiguous ends", "natural ends", "对仗 middle", "poems/s"):
        assert title in header
