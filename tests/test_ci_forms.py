"""Forms as data: the 诗 forms unchanged, 词牌 as layouts, the registry, the corpus loader and the
model file's form and 词 prosody fields (no model needed)."""

import json
import re

import pytest

from poemnet.common import corpus, form_data, prosody
from poemnet.common.errors import UserError
from poemnet.common.forms import FORMS, PUNCTUATION, Form
from poemnet.common.vocab import Vocab
from poemnet.generation import model_file
from poemnet.generation.model_file import DamagedModel, VocabProsody
from poemnet.generation.request import CANONICAL_FORM


def old_slot(line_len, num_lines, position):
    """forms.py's arithmetic before forms became layouts: the reference the 诗 forms must keep."""
    if position >= num_lines * (line_len + 1):
        return "end"
    line, col = divmod(position, line_len + 1)
    return "char" if col < line_len else "，" if line % 2 == 0 else "。"


@pytest.mark.parametrize("name, line_len, num_lines", [("五绝", 5, 4), ("七绝", 7, 4), ("五律", 5, 8), ("七律", 7, 8)])
def test_the_shi_forms_keep_their_layout(name, line_len, num_lines):
    form = FORMS[name]
    assert (form.line_len, form.num_lines, form.length, form.kind) == (
        line_len,
        num_lines,
        num_lines * (line_len + 1),
        "诗",
    )
    for position in range(form.length + 3):
        assert form.slot(position) == old_slot(line_len, num_lines, position), position
        line, col = divmod(position, line_len + 1)
        assert form.line_start(position) == (line if col == 0 and line < num_lines else None)
    assert [form.line_end(i) for i in range(num_lines)] == [i * (line_len + 1) + line_len - 1 for i in range(num_lines)]
    text = "".join("月" * line_len + ("，" if i % 2 == 0 else "。") for i in range(num_lines))
    assert form.matches(text) and not form.matches(text[:-1] + "，") and not form.matches(text + "月。")
    assert form.lines(text) == [text[i : i + line_len + 1] for i in range(0, len(text), line_len + 1)]


def test_a_cipai_is_a_layout_of_lines_marks_and_pian():
    form = form_data.form_named("满江红")
    assert form.kind == "词" and form.traditional == "滿江紅" and form.line_len is None
    assert form.length == sum(n + 1 for n, _ in form.layout) and form.pian == 11
    poems = [p for p in corpus.load(corpus.resolve_ci("embedded")) if p.form == "满江红"]
    fitting = [p.text for p in poems if form.matches(p.text)]
    assert len(fitting) >= 0.6 * len(poems)  # the dominant layout, marks included
    text = fitting[0]
    lines = form.lines(text)
    assert "".join(lines) == text and [len(line) - 1 for line in lines] == [n for n, _ in form.layout]
    for i, (n, mark) in enumerate(form.layout):
        start = form.line_position(i)
        assert form.line_start(start) == i and form.line_end(i) == start + n - 1
        assert [form.slot(p) for p in range(start, start + n + 1)] == ["char"] * n + [mark]
        assert form.locate(start + n) == (i, n)
    assert form.slot(form.length) == form.slot(form.length + 1) == "end" and form.locate(form.length) == (None, None)
    assert form.pian_lines(text) == [lines[:11], lines[11:]]
    assert not form.matches(text.replace("、", "，", 1))  # the marks are part of the layout


def test_the_registry_finds_every_supported_cipai_by_either_name():
    table = form_data.load_cipai()
    supported = form_data.supported_cipai()
    assert len(supported) == sum(f["layout_poems"] >= form_data.SUPPORTED_LAYOUT_POEMS for f in table.values()) == 112
    for name, data in table.items():
        found = form_data.form_named(data["traditional"])
        assert (found is not None) == (name in supported)
        if found:
            assert found.name == name and [list(line) for line in found.layout] == data["layout"]
    assert form_data.form_named("五绝") is FORMS["五绝"] and form_data.form_named("宋词") is None


@pytest.mark.parametrize(
    "name, fragment",
    [
        ("水調歌頭", None),
        (" 浣溪沙 ", None),
        ("五絕", None),
        ("七律", "not one this model was trained on"),
        ("临江仙", "not one this model was trained on"),
        ("惜奴娇", "only 1 poems in its most common layout"),
        ("宋词", "is not a regulated form or a supported 词牌"),
    ],
)
def test_find_form_names_the_problem(name, fragment):
    known = [FORMS["五绝"], form_data.form_named("浣溪沙"), form_data.form_named("水调歌头")]
    if fragment is None:
        assert form_data.find_form(name, known, CANONICAL_FORM).name in ("五绝", "浣溪沙", "水调歌头")
    else:
        with pytest.raises(UserError, match=fragment):
            form_data.find_form(name, known, CANONICAL_FORM)


def test_the_corpus_loader_takes_ci_beside_shi(tmp_path):
    poems = corpus.load(corpus.resolve_ci("embedded"))
    assert len(poems) == 20199 and len({p.form for p in poems}) == 904
    assert corpus.stats(poems)["distinct_characters"] == len({ch for p in poems for ch in p.text} - set(PUNCTUATION))
    bad = tmp_path / "bad.jsonl"
    record = {"text": "春风，又绿", "form": "浣溪沙", "dynasty": "宋", "author": "", "title": ""}
    bad.write_text(json.dumps(record, ensure_ascii=False) + "\n", encoding="utf-8")
    with pytest.raises(UserError, match="does not have the form '浣溪沙'"):
        corpus.load(bad)


def ci_vocab():
    texts = ["春风又绿江南岸，明月何时照我还。", "杨柳岸、晓风残月。", "天若有情天亦老？"]
    return Vocab.build(texts, forms=("五绝", "浣溪沙", "满江红"))


def ci_props(**changes):
    vocab = ci_vocab()
    forms = [FORMS["五绝"], form_data.form_named("浣溪沙"), form_data.form_named("满江红")]
    data = prosody.vocab_prosody(vocab, forms, "simplified")
    props = model_file.metadata_props(
        vocab=vocab, forms=forms, script="simplified", num_layers=1, hidden_dim=4, embedding_dim=4,
        weights_sha256="0" * 64, prosody=data,
    )  # fmt: skip
    return {**props, **changes}


def test_a_model_file_carries_its_forms_and_the_ci_prosody():
    props = ci_props()
    meta = model_file.read_metadata(props)
    assert [f.name for f in meta.forms] == ["五绝", "浣溪沙", "满江红"] and meta.forms[0] is not None
    assert meta.forms[0] == FORMS["五绝"] and meta.forms[2] == form_data.form_named("满江红")
    p = meta.prosody()
    assert p.group_names[: p.num_groups] == prosody.load_table()[1] and p.group_names[p.num_groups] == "第一部"
    parts, _ = form_data.load_cilin()
    for i, token in enumerate(ci_vocab().tokens):
        ping, ze = parts.get(token, ((), ()))
        assert p.part_ping[i] == (min(ping) if len(ping) == 1 and prosody.char_info(token)[0] == "P" else -1)
        assert p.part_ze[i] == (min(ze) if len(ze) == 1 and prosody.char_info(token)[0] == "Z" else -1)
    assert p.templates["满江红"] == form_data.form_templates(form_data.form_named("满江红"))
    assert p.group_part[0] == 0  # 一东 is in 第一部
    web = model_file.web_metadata(props)
    assert web["form_layouts"]["满江红"]["layout"][1] == [3, "、"] and web["prosody"]["cilin_names"][0] == "第一部"


def test_format_2_shi_files_still_load():
    props = ci_props()
    vocab = Vocab(json.loads(props["vocab"]))
    old = {k: v for k, v in props.items() if k != "form_layouts"} | {"poemnet_format": "2", "forms": '["五绝"]'}
    data = json.loads(props["prosody"])
    data = {k: v for k, v in data.items() if k not in ("cilin", "cilin_names", "group_cilin")}
    data["templates"] = {"五绝": [{"name": t["name"], "lines": t["lines"]} for t in prosody.templates(FORMS["五绝"])]}
    old["prosody"] = json.dumps(data, ensure_ascii=False)
    meta = model_file.read_metadata(old)
    assert meta.forms == [FORMS["五绝"]] and meta.prosody().part_ping is None and len(meta.vocab) == len(vocab)


def edit_json(props, key, edit):
    value = json.loads(props[key])
    edit(value)
    return {**props, key: json.dumps(value, ensure_ascii=False)}


DAMAGE = [
    ("form_layouts", lambda d: d.pop("满江红"), "are not a list of the known forms"),
    ("form_layouts", lambda d: d["满江红"]["layout"][0].__setitem__(1, ":"), "lines of [length, one of"),
    ("form_layouts", lambda d: d["满江红"].__setitem__("pian", 99), "pian must be a line inside the poem"),
    ("form_layouts", lambda d: d["五绝"]["layout"][0].__setitem__(0, 7), "is not the layout of the 诗 form 五绝"),
    ("prosody", lambda d: d.pop("cilin"), "prosody.cilin must list"),
    ("prosody", lambda d: d["cilin"].__setitem__(5, [[99], []]), "prosody.cilin holds"),
    ("prosody", lambda d: d.__setitem__("group_cilin", [0]), "prosody.group_cilin must give"),
    ("prosody", lambda d: d["templates"]["满江红"][0]["rhymes"].append(40), "must give its rhyme lines"),
    ("prosody", lambda d: d["templates"]["满江红"][0].__setitem__("rhyme_tones", "平"), "must give its rhyme lines"),
    ("prosody", lambda d: d["templates"]["满江红"][0]["lines"].__setitem__(1, "平仄"), "template line must be 3 of"),
    ("prosody", lambda d: d["templates"]["五绝"][0].__setitem__("rhymes", [1, 2]), "must rhyme in 平 on its even"),
]


@pytest.mark.parametrize("key, edit, fragment", DAMAGE)
def test_damaged_ci_metadata_is_refused(key, edit, fragment):
    props = edit_json(ci_props(), key, edit)
    with pytest.raises(DamagedModel, match=re.escape(fragment)):
        model_file.read_metadata(props).prosody()


def test_vocab_prosody_from_data_reads_what_the_exporter_writes():
    data = json.loads(ci_props()["prosody"])
    p = VocabProsody.from_data(data)
    assert len(p.group_names) == len(data["group_names"]) + len(data["cilin_names"])
    assert (p.part_ping >= 0).sum() > 0 and (p.part_ze >= 0).sum() > 0
    assert not ((p.part_ping >= 0) & (p.part_ze >= 0)).any()  # 平 only or 仄 only: never both
    assert Form.regular("五绝", 5, 4) == FORMS["五绝"]
