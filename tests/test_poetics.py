"""Regulated verse: the 平水韵 table, the rules as guarantees for every form, relaxation, the metrics."""

import dataclasses
import json

import onnx
import pytest

from conftest import assert_clean_error, run_script
from poemnet.common import corpus, prosody
from poemnet.common.forms import FORMS
from poemnet.common.vocab import Vocab
from poemnet.evaluate import matching_templates, metrics, rhymes
from poemnet.generation import model_file
from poemnet.generation.generate import Constraints, generate_detailed, poem_rules
from poemnet.generation.line_filter import LineFilter, corpus_lines, line_hashes
from poemnet.generation.runtime import PoemModel
from poemnet.generation.sampling import Sampling

JINGYESI = "床前明月光，疑是地上霜。举头望明月，低头思故乡。"
DENG_GUANQUE_LOU = "白日依山尽，黄河入海流。欲穷千里目，更上一层楼。"
FENG_QIAO = "月落乌啼霜满天，江枫渔火对愁眠。姑苏城外寒山寺，夜半钟声到客船。"
EMBEDDED_LINES = set(corpus_lines(p.text for p in corpus.load()))


def test_characters_have_the_books_tone_and_group_in_both_scripts():
    names = prosody.load_table()[1]
    assert prosody.char_info("东") == ("P", (names.index("上平声一东"),))
    assert prosody.char_info("東", "traditional") == prosody.char_info("东")
    assert prosody.char_info("东", "traditional")[0] == "U"  # 东 is not a traditional character
    for rusheng in "国竹学实七":  # 入声: 仄, although Mandarin reads some as level tones
        assert prosody.char_info(rusheng)[0] == "Z", rusheng
    assert prosody.char_info("看")[0] == "E" and prosody.char_info("遍")[0] == "U"
    assert names[prosody.char_info("乡")[1][0]] == "下平声七阳"


def test_known_poems_rhyme_and_follow_their_templates():
    assert rhymes(JINGYESI, FORMS["五绝"]) and rhymes(DENG_GUANQUE_LOU, FORMS["五绝"])
    assert rhymes(FENG_QIAO, FORMS["七绝"])  # 天 眠 船: 下平声一先, line 1 included
    assert matching_templates(DENG_GUANQUE_LOU, FORMS["五绝"]) == ["仄起首句不入韵"]
    assert not rhymes("白日依山尽，黄河入海去。欲穷千里目，更上一层楼。", FORMS["五绝"])
    a_line = prosody.templates(FORMS["五绝"])[2]["lines"][0]
    assert a_line == "中仄平平仄"
    assert [prosody.char_info(ch)[0] for ch in "白日依山尽"] == ["Z", "Z", "P", "P", "Z"]


def test_templates_follow_nian_and_dui_in_the_lu_forms():
    for form in (FORMS["五律"], FORMS["七律"]):
        for template in prosody.templates(form):
            lines = template["lines"]
            assert len(lines) == 8 and lines[5:] == lines[1:4] and lines[4][-1] == "仄"
            for i in range(1, 8):  # 对 within a couplet, 粘 across couplets: the 2nd tone alternates so
                second = [line[1] for line in lines]
                assert (second[i] != second[i - 1]) == (i % 2 == 1), (template["name"], i)


def test_metrics_of_hand_made_poems():
    form = FORMS["五绝"]
    repeat = "山山山山山，水水水水水。山山山山山，水水水水水。"
    m = metrics([JINGYESI, DENG_GUANQUE_LOU, repeat, "not a poem"], form, {"白日依山尽"})
    assert m["poems"] == 4 and m["format_valid"] == 0.75
    assert m["rhyme_rate"] == pytest.approx(2 / 3) and m["template_rate"] == pytest.approx(1 / 3)
    assert m["repeats_per_poem"] == pytest.approx((3 + 0 + 18) / 3)  # 明, 月 and 头 repeat in 静夜思
    assert m["copy_rate"] == pytest.approx(1 / 12)
    assert m["distinct_1"] == pytest.approx(len(set(JINGYESI + DENG_GUANQUE_LOU + "山水") - set("，。")) / 60)


def test_the_line_filter_holds_every_line_and_few_others():
    lines = [f"{i:07d}" for i in range(20000)]
    line_filter = LineFilter.build(lines)
    assert all(line in line_filter for line in lines)
    others = sum(f"x{i:06d}" in line_filter for i in range(20000)) / 20000
    assert others < 0.02, others
    vocab = Vocab.build(["明月，光。"])
    props = model_file.metadata_props(
        vocab=vocab,
        forms=["五绝"],
        script="simplified",
        num_layers=1,
        hidden_dim=1,
        embedding_dim=1,
        weights_sha256="0",
        line_filter=line_filter,
    )
    again = model_file.read_metadata(props).line_filter()
    assert "0001234" in again and json.loads(props["novel"])["expected_fpr"] < 0.011
    assert max(line_hashes("𬬻" * 9)) < 2**31 - 1  # extension-plane code points stay in range


def generated(model, form, seed, n=12, **options):
    decoder = poem_rules(
        model.vocab, form, constraints=Constraints(**options), prosody=model.prosody, line_filter=model.line_filter
    )
    return generate_detailed(
        model.step, model.zero_state, model.vocab, form, n, decoder, Sampling(temperature=1.2), seed
    )


def check_poem(poem, form, options):
    text = poem["text"]
    assert form.matches(text), poem
    relaxed = {name for r in poem.get("relaxed", []) for name in r["relaxed"]}
    if options.get("rhyme") and not relaxed & {"rhyme", "rhyme_group"}:
        assert rhymes(text, form), poem
    if options.get("tones") and "tones" not in relaxed:
        assert poem["template"] in matching_templates(text, form), poem
    if options.get("no_repeat") and "no_repeat" not in relaxed:
        chars = text.replace("，", "").replace("。", "")
        assert len(set(chars)) == len(chars), poem
    if options.get("novel") and "novel" not in relaxed:
        assert not {line[:-1] for line in form.lines(text)} & EMBEDDED_LINES, poem
    return bool(relaxed)


OPTIONS = [
    {"rhyme": True},
    {"tones": True},
    {"rhyme": True, "tones": True},
    {"rhyme": True, "tones": True, "no_repeat": True, "novel": True},
]


@pytest.mark.parametrize("form", list(FORMS))
def test_random_weights_every_form_every_option_is_a_guarantee(all_forms_onnx, form):
    model, form = PoemModel(all_forms_onnx[0]), FORMS[form]
    acrostic = "春秋山风花天云江"[: form.num_lines]  # 平 characters: they fit every template's line starts
    relaxed = total = 0
    for seed in range(2):
        for options in OPTIONS:
            for first in ({}, {0: "月"}, dict(enumerate(acrostic))):
                for poem in generated(model, form, seed, first_chars=first, **options):
                    relaxed += check_poem(poem, form, options)
                    total += 1
                    assert all(poem["text"][line * (form.line_len + 1)] == ch for line, ch in first.items())
    assert relaxed / total < 0.05, (relaxed, total)  # relaxation is for the impossible, not the everyday


def test_a_trained_model_keeps_every_option(tiny_onnx):
    model, form = PoemModel(tiny_onnx[1]), FORMS["五绝"]
    options = {"rhyme": True, "tones": True, "no_repeat": True, "novel": True}
    poems = [p for seed in range(6) for p in generated(model, form, seed, n=32, **options)]
    assert sum(check_poem(p, form, options) for p in poems) <= 2
    assert len({p["rhyme_group"] for p in poems}) > 3 and len({p["template"] for p in poems}) == 4


def test_an_impossible_combination_relaxes_in_order_and_reports_it(all_forms_onnx):
    model, form = PoemModel(all_forms_onnx[0]), FORMS["五绝"]
    group = 2  # 上平声三江, emptied: a rhyme group whose characters the vocabulary lacks
    assert (model.prosody.rhyme_group == group).any()
    model.prosody = dataclasses.replace(
        model.prosody, rhyme_char=model.prosody.rhyme_char & (model.prosody.rhyme_group != group)
    )
    poems = generated(model, form, 0, n=4, rhyme=True, rhyme_group=group, tones=True)
    for poem in poems:
        assert form.matches(poem["text"])
        assert {"position": 10, "relaxed": ["rhyme_group"]} in poem["relaxed"], poem
        assert {name for r in poem["relaxed"] for name in r["relaxed"]} <= {"tones", "rhyme_group"}
        ends = [model.vocab.index[line[-2]] for line in form.lines(poem["text"])]
        assert model.prosody.rhyme_char[ends[1]] and model.prosody.rhyme_char[ends[3]]  # the rhyme rule still holds
    repeated = generated(model, form, 0, n=2, first_chars=dict(enumerate("月月月月")), no_repeat=True)
    for poem in repeated:
        assert poem["text"][6] == "月" and poem["relaxed"][0] == {"position": 6, "relaxed": ["no_repeat"]}
    summer = generated(model, FORMS["五律"], 0, n=2, first_chars=dict(enumerate("春夏秋冬山水风月")), tones=True)
    assert all({"position": 42, "relaxed": ["tones"]} in p["relaxed"] for p in summer)  # 月 (仄) where 平 is due


def test_greedy_with_every_rule_is_identical_through_torch_and_onnxruntime(all_forms_onnx):
    from poemnet.training.model import numpy_step_fn

    path, torch_model, _vocab = all_forms_onnx
    model = PoemModel(path)
    for form in FORMS.values():
        decoder = poem_rules(
            model.vocab,
            form,
            constraints=Constraints({0: "山"}, rhyme=True, tones=True, no_repeat=True, novel=True),
            prosody=model.prosody,
            line_filter=model.line_filter,
        )
        via_onnx = generate_detailed(model.step, model.zero_state, model.vocab, form, 3, decoder, Sampling(greedy=True))
        via_torch = generate_detailed(*numpy_step_fn(torch_model), model.vocab, form, 3, decoder, Sampling(greedy=True))
        assert via_torch == via_onnx


def strip_prosody(src, dst):
    proto = onnx.load(str(src))
    keep = [(p.key, p.value) for p in proto.metadata_props if p.key not in ("prosody", "novel", "novel_bloom")]
    del proto.metadata_props[:]
    for key, value in keep:
        proto.metadata_props.add(key=key, value=value)
    onnx.save(proto, str(dst))


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--rhyme", "火星"], "--rhyme 火星 is not a 平水韵 平 group"),
        (["--tones", "--template", "平起"], "--template 平起 is not a template of 五绝"),
        (["--template", "平起首句入韵"], "pass --tones with it"),
    ],
)
def test_bad_poetics_options_are_one_line_errors(tiny_onnx, args, fragment):
    assert_clean_error(run_script("infer.py", "--model", tiny_onnx[0], *args), fragment)


def test_a_model_without_prosody_data_still_generates_and_refuses_tones(tiny_onnx, tmp_path):
    old = tmp_path / "old.onnx"
    strip_prosody(tiny_onnx[0], old)
    assert run_script("infer.py", "--model", old, "--seed", "1").returncode == 0
    for option in (["--tones"], ["--rhyme"], ["--novel"]):
        assert_clean_error(run_script("infer.py", "--model", old, *option), "re-export it")


def test_rhyme_by_group_name_in_both_scripts_and_json_reports_the_choice(tiny_onnx):
    for name in ("阳", "七阳", "下平聲七陽"):
        result = run_script(
            "infer.py", "--model", tiny_onnx[0], "--rhyme", name, "--tones", "--n", "3", "--seed", "4", "--json"
        )
        assert result.returncode == 0, result.stderr
        for poem in json.loads(result.stdout)["poems"]:
            assert poem["rhyme_group"] == "下平声七阳" and poem["template"] and poem["relaxed"] == []
            assert rhymes(poem["text"], FORMS["五绝"])


@pytest.mark.parametrize("first", ["", "月月月月"])
def test_the_novel_rule_checking_only_what_the_others_allow_changes_no_poem(all_forms_onnx, first):
    """allowed_tokens passes the costly novel rule what the other rules allow; the same rule made
    to check every candidate must give the same poems and relaxations, relaxed rows included."""
    model, form = PoemModel(all_forms_onnx[0]), FORMS["五绝"]
    constraints = Constraints(first_chars=dict(enumerate(first)), rhyme=True, tones=True, no_repeat=True, novel=True)
    decoder = poem_rules(
        model.vocab, form, constraints=constraints, prosody=model.prosody, line_filter=model.line_filter
    )
    run = lambda: generate_detailed(model.step, model.zero_state, model.vocab, form, 16, decoder, Sampling(1.2), 3)  # noqa: E731
    narrowed = run()
    novel = dict(decoder.rules.soft)["novel"]
    assert novel.narrows
    decoder.rules = dataclasses.replace(
        decoder.rules,
        soft=tuple(
            (name, (lambda p, h, rule=rule: rule(p, h)) if name == "novel" else rule)
            for name, rule in decoder.rules.soft
        ),
    )
    assert narrowed == run()
    assert any(p["relaxed"] for p in narrowed) == bool(first)
