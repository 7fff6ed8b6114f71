"""The 词 measures (generation/ci_check.py) on 词 built to pass or fail each one, and on the human 词."""

import pytest

from poemnet.common import corpus, form_data, prosody
from poemnet.generation import ci_check

PING_CHAR, ZE_CHAR = "东", "月"  # 平 only and 仄 only in the 平水韵
PARTS = form_data.load_cilin()[0]


def rhyme_chars(part, tone, count):
    """Characters that rhyme only in `tone`, in 部 `part` alone (first by code point)."""
    only = prosody.PING if tone == "平" else prosody.ZE
    side = 0 if tone == "平" else 1
    found = sorted(
        ch for ch, p in PARTS.items() if p[side] == {part} and prosody.char_info(ch)[0] == only and len(ch) == 1
    )
    assert len(found) >= count
    return found[:count]


def perfect(form):
    """A 词 that fits its template exactly: 平 only where 平, 仄 only elsewhere, every rhyme in 第一部,
    the other line ends in 平 of 第十二部 or 仄 of 第十八部 (each line end a different character)."""
    template = form_data.form_templates(form)[0]
    lines = [[PING_CHAR if m == "平" else ZE_CHAR for m in row] for row in template["lines"]]
    ends = {("rhyme", tone): iter(rhyme_chars(0, tone, 20)) for tone in "平仄"}
    ends |= {("other", "平"): iter(rhyme_chars(11, "平", 30)), ("other", "仄"): iter(rhyme_chars(17, "仄", 30))}
    rhymes = dict(zip(template["rhymes"], template["rhyme_tones"]))
    for i, row in enumerate(lines):
        kind = ("rhyme", rhymes[i]) if i in rhymes else ("other", "平" if template["lines"][i][-1] == "平" else "仄")
        row[-1] = next(ends[kind])
    return "".join("".join(row) + mark for row, (_, mark) in zip(lines, form.layout)), template


def replaced(text, position, ch):
    return text[:position] + ch + text[position + 1 :]


@pytest.mark.parametrize("name", ["浣溪沙", "西江月", "满江红", "菩萨蛮"])
def test_a_perfect_ci_passes_and_each_fault_is_seen(name):
    form = form_data.form_named(name)
    text, template = perfect(form)
    fitting, fixed = ci_check.tone_share(text, form, template)
    assert fitting == fixed > 0 and form.matches(text)
    assert ci_check.rhyme_sets_agree(text, form, template) and not ci_check.repeated_end(text, form)
    chars = [p for p in range(form.length) if form.slot(p) == "char"]
    first_ping = chars["".join(template["lines"]).index("平")]
    assert ci_check.tone_share(replaced(text, first_ping, ZE_CHAR), form, template) == (fixed - 1, fixed)
    last, tone = form.line_end(template["rhymes"][-1]), template["rhyme_tones"][-1]
    other = rhyme_chars(5 if tone == "平" else 16, tone, 1)[0]  # another 部 of the same tone
    assert not ci_check.rhyme_sets_agree(replaced(text, last, other), form, template)
    assert ci_check.repeated_end(replaced(text, form.line_end(1), text[form.line_end(0)]), form)


def test_measures_count_layout_copies_and_repeats():
    form = form_data.form_named("浣溪沙")
    text, template = perfect(form)
    lines = [line[:-1] for line in form.lines(text)]
    row = ci_check.measures([text, text[:-2] + "。", text], form, template, {lines[0]})
    assert row["poems"] == 3 and row["layout"] == pytest.approx(2 / 3)
    assert row["tones"] == row["tones_exact"] == row["rhyme_rate"] == 1.0 and row["repeated_end_rate"] == 0.0
    assert row["copy_rate"] == pytest.approx(1 / len(lines))
    chars = "".join(lines)
    assert row["repeats_per_poem"] == len(chars) - len(set(chars))
    total = ci_check.total_row([row, {**row, "poems": 1, "layout": 0.0}], "x")
    assert total["poems"] == 4 and total["layout"] == pytest.approx(0.5)


def test_script_requirements_fix_the_tones_and_the_rhyme_tones():
    form = form_data.form_named("西江月")
    text, template = perfect(form)
    need = ci_check.script_requirements(text, form)
    fixed = {
        form.line_position(i) + j for i, row in enumerate(template["lines"]) for j, m in enumerate(row) if m != "中"
    }
    assert set(need) == fixed | {form.line_end(i) for i in template["rhymes"]}
    end = form.line_end(template["rhymes"][2])  # a 仄 叶 of 西江月
    assert need[end]("Z", ()) and not need[end]("P", ()) and need[end]("E", ())


def test_the_human_ci_of_the_common_cipai():
    forms = [form_data.form_named(n) for n in ("浣溪沙", "鹧鸪天", "菩萨蛮", "西江月")]
    poems = corpus.load(corpus.resolve_ci("embedded"))
    train, val = corpus.split(poems, 0.05)
    rows = ci_check.human_rows(forms, val, ci_check.training_lines(train), "simplified", 1000)
    assert [r["form"] for r in rows] == ["浣溪沙", "鹧鸪天", "菩萨蛮", "西江月", "词 (all)"]
    for row in rows:
        assert row["preset"] == ci_check.HUMAN and row["layout"] >= 0.8 and row["tones"] >= 0.95
        assert 0.5 <= row["rhyme_rate"] < 1.0 and row["copy_rate"] < 0.2
    assert rows[-1]["poems"] == sum(r["poems"] for r in rows[:-1])


def test_evaluate_prints_the_ci_table_beside_the_shi_one(tmp_path):
    from ci_model import make_ci_model

    from conftest import run_script

    path = tmp_path / "ci.onnx"
    make_ci_model(path)
    out = tmp_path / "eval.json"
    result = run_script(
        "-m",
        "poemnet.evaluate",
        "--model",
        path,
        "--n",
        "4",
        "--presets",
        "plain",
        "all",
        "--reference",
        "5",
        "--out",
        out,
        "--forms",
        "五绝",
        "浣溪沙",
        "菩萨蛮",
    )
    assert result.returncode == 0, result.stderr
    import json

    report = json.loads(out.read_text(encoding="utf-8"))
    ci = {(r["form"], r["preset"]): r for r in report["ci_rows"]}
    assert ci[("浣溪沙", "all")]["layout"] == 1.0 and ci[("菩萨蛮", "all")]["rhyme_rate"] == 1.0
    assert ("浣溪沙", "human (validation)") in ci
    assert {r["form"] for r in report["rows"]} == {"五绝"}  # the 诗 table keeps the 诗 forms
    assert "| 词牌 |" in result.stdout
