"""The decoding rules on 词: every 词牌 of CI_FORMS with every rule, checked against the rhyme book
and the corpus directly (not through the masks that made the poems), with a random-weights model."""

import json

import pytest
from ci_model import CI_FORMS, ci_texts, make_ci_model

from poemnet.common import form_data, prosody
from poemnet.common.errors import UserError
from poemnet.common.form_data import split_lines
from poemnet.generation import listing
from poemnet.generation.request import Request, prepare, write
from poemnet.generation.runtime import PoemModel

ALL = {"rhyme": "", "tones": True, "no_repeat": True, "novel": True}


@pytest.fixture(scope="module")
def ci_model(tmp_path_factory):
    path = tmp_path_factory.mktemp("ci") / "ci.onnx"
    make_ci_model(path)
    return PoemModel(path)


@pytest.fixture(scope="module")
def corpus_lines():
    shi, ci = ci_texts()
    return {line for text in shi + ci for line, _ in split_lines(text)}


def relaxed_rules(poem):
    return {name for r in poem.get("relaxed", []) for name in r["relaxed"]}


def strict_rhyme(ch, tone):
    """The 部 of a character that rhymes only in `tone` and in one 部 of it, else None."""
    ping, ze = form_data.load_cilin()[0].get(ch, ((), ()))
    parts = ping if tone == "平" else ze
    only = prosody.PING if tone == "平" else prosody.ZE
    return next(iter(parts)) if prosody.char_info(ch)[0] == only and len(parts) == 1 else None


def check_poem(text, form, template, rules):
    """Assert what each rule promises of one poem, by the rhyme book and the layout alone."""
    assert form.matches(text), text
    lines = [line[:-1] for line in form.lines(text)]
    if "tones" not in rules:
        for mark, ch in zip("".join(template["lines"]), "".join(lines)):
            tone = prosody.char_info(ch)[0]
            assert mark == "中" or tone == prosody.EITHER or (mark == "平") == (tone == prosody.PING), (text, ch, mark)
    if "rhyme" not in rules and "rhyme_group" not in rules:
        parts = {}
        for line, rhyme_set, tone in zip(template["rhymes"], template["rhyme_sets"], template["rhyme_tones"]):
            part = strict_rhyme(lines[line][-1], tone)
            assert part is not None, (text, line)
            assert parts.setdefault(rhyme_set, part) == part, (text, line)
        rhyming = set(template["rhymes"])
        for i, line in enumerate(lines):
            if i not in rhyming and template["lines"][i][-1] == "仄":
                assert prosody.char_info(line[-1])[0] == prosody.ZE, (text, i)
        ends = [line[-1] for line in lines]
        assert len(set(ends)) == len(ends), text  # no 重韵
        return parts
    return None


@pytest.mark.parametrize("name", CI_FORMS)
def test_every_rule_holds_on_every_cipai(ci_model, corpus_lines, name):
    prepared = prepare(ci_model, Request(form=name, **ALL, n=12, seed=5, temperature=1.0))
    form = prepared.form
    template = ci_model.prosody.templates[name][0]
    poems = write(ci_model, prepared)
    assert sum(not p["relaxed"] for p in poems) >= 9, [p["relaxed"] for p in poems]  # the rules mostly hold whole
    for poem in poems:
        rules = relaxed_rules(poem)
        check_poem(poem["text"], form, template, rules)
        chars = "".join(line[:-1] for line in form.lines(poem["text"]))
        if "no_repeat" not in rules:
            assert len(set(chars)) == len(chars), poem
        if "novel" not in rules:
            assert not any(line[:-1] in corpus_lines for line in form.lines(poem["text"])), poem
        if poem["rhyme_group"] is not None:
            first = template["rhymes"][0]
            assert (
                poem["rhyme_group"]
                == ci_model.prosody.group_names[
                    ci_model.prosody.num_groups
                    + strict_rhyme(form.lines(poem["text"])[first][-2], template["rhyme_tones"][0])
                ]
            )


def test_a_plain_ci_keeps_only_its_layout(ci_model):
    poems = write(ci_model, prepare(ci_model, Request(form="满江红", n=4, seed=2)))
    form = ci_model.forms[[f.name for f in ci_model.forms].index("满江红")]
    assert all(form.matches(p["text"]) for p in poems) and all("、" in p["text"] for p in poems)
    assert "relaxed" not in poems[0] and "rhyme_group" not in poems[0]


@pytest.mark.parametrize("name", ["浣溪沙", "水调歌头", "满江红"])
def test_acrostic_and_start_take_one_character_per_line(ci_model, name):
    form = form_data.form_named(name)
    acrostic = "春秋山风花天云江月日长水人时心高一不东西中年白青"[: form.num_lines]
    for request in (Request(form=name, acrostic=acrostic, n=2, seed=1), Request(form=name, start="月", tones=True)):
        for poem in write(ci_model, prepare(ci_model, request)):
            starts = [line[0] for line in form.lines(poem["text"])]
            assert starts == list(acrostic) if request.acrostic else starts[0] == "月"
    with pytest.raises(UserError, match=f"--acrostic needs {form.num_lines} characters"):
        prepare(ci_model, Request(form=name, acrostic="春夏秋"))


def test_the_rhyme_sets_of_a_huanyun_cipai_rhyme_apart(ci_model):
    """菩萨蛮 changes its rhyme every two lines (仄 仄 平 平 ...): each set keeps one 部 and the sets
    are free of each other."""
    template = ci_model.prosody.templates["菩萨蛮"][0]
    assert template["rhyme_sets"] == [0, 0, 1, 1, 2, 2, 3, 3]
    form = form_data.form_named("菩萨蛮")
    differ = 0
    for poem in write(ci_model, prepare(ci_model, Request(form="菩萨蛮", rhyme="", tones=True, n=12, seed=3))):
        parts = check_poem(poem["text"], form, template, relaxed_rules(poem))
        differ += parts is not None and len(set(parts.values())) > 1
    assert differ >= 6


@pytest.mark.parametrize("group, part", [("第七部", 6), ("东", 0), ("十三元", 5)])
def test_a_named_group_sets_every_rhyme_set(ci_model, group, part):
    prepared = prepare(ci_model, Request(form="西江月", rhyme=group, tones=True, n=6, seed=4))
    template = ci_model.prosody.templates["西江月"][0]
    assert template["rhyme_tones"] == "平平仄平平仄"  # 通叶: one set in both tones
    for poem in write(ci_model, prepared):
        parts = check_poem(poem["text"], prepared.form, template, relaxed_rules(poem))
        if parts is not None:
            assert set(parts.values()) == {part} and poem["rhyme_group"] == ci_model.prosody.group_names[30 + part]


def test_a_part_is_no_group_for_a_shi(ci_model):
    with pytest.raises(UserError, match="is a 词林正韵 部: a 诗 rhymes in one 平水韵 平 group"):
        prepare(ci_model, Request(form="五绝", rhyme="第一部"))


def test_shi_still_rhymes_by_pingshui_group_in_a_model_with_ci(ci_model):
    for poem in write(ci_model, prepare(ci_model, Request(form="五绝", rhyme="", tones=True, n=6, seed=1))):
        assert poem["rhyme_group"] in prosody.load_table()[1] or poem["relaxed"]


def test_the_listing_shows_the_models_cipai_and_parts(ci_model, tmp_path, capsys):
    assert listing.main(["--model", str(ci_model.path), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert [f["name"] for f in shown["forms"]] == ["五绝", "七绝", "五律", "七律"]
    assert {f["name"] for f in shown["cipai"] if f["in_model"]} == set(CI_FORMS) and len(shown["cipai"]) == 112
    counts = {f["name"]: f["poems"] for f in shown["cipai"]}
    assert counts == {name: data["poems"] for name, data in form_data.load_cipai().items() if name in counts}
    assert [p["name"] for p in shown["parts"]] == form_data.load_cilin()[1] and len(shown["rhymes"]) == 30
    assert [t["name"] for t in shown["templates"]["水调歌头"]] == ["corpus"]
