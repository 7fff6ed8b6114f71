"""The 词牌 patterns: eight well-known 词牌 against their published 词谱, the derivation on hand-made
fixtures, the 词 builder on a small package, and the committed data against its reports."""

import json
from collections import Counter

import pytest

from poemnet.builders import ci, ci_patterns
from poemnet.common import corpus, form_data, prosody
from poemnet.common.forms import FORMS

# 龙榆生《唐宋词格律》, 定格 of each 词牌: line lengths of 上片 and 下片, the rhyming lines (1-based
# within each 片, as the book marks 韵) and the tone each rhyme is taken in. Lines end at every
# mark, the book's 逗 (、) included, as the builder splits them: the book counts 满江红's 前片 as
# 八句 and 念奴娇's as 十句 with its 逗 inside a 句. Tones: ⊙ written 中, ● 仄, ○ 平, for the four
# short 词牌 whose 定格 are 律句. Written from the book as remembered; the 韵 counts of 浣溪沙,
# 水调歌头 and 念奴娇 and 念奴娇's 句读 were checked against web copies of it and of 《钦定词谱》.
PUBLISHED = {
    "浣溪沙": {  # 双调四十二字，上片三句三平韵，下片三句两平韵
        "lines": ([7, 7, 7], [7, 7, 7]),
        "rhymes": ([1, 2, 3], [2, 3]),
        "rhyme_tones": "平平平平平",
        "kind": "平",
        "tones": (
            ["中仄平平仄仄平", "中平中仄仄平平", "中平中仄仄平平"],
            ["中仄中平平仄仄", "中平中仄仄平平", "中平中仄仄平平"],
        ),
    },
    "菩萨蛮": {  # 双调四十四字，前后片各四句，均两仄韵转两平韵
        "lines": ([7, 7, 5, 5], [5, 5, 5, 5]),
        "rhymes": ([1, 2, 3, 4], [1, 2, 3, 4]),
        "rhyme_tones": "仄仄平平仄仄平平",
        "rhyme_sets": [0, 0, 1, 1, 2, 2, 3, 3],  # four rhymes, one per pair
        "kind": "换",
        "tones": (
            ["中平中仄平平仄", "中平中仄平平仄", "中仄仄平平", "中平中仄平"],
            ["中平平仄仄", "中仄平平仄", "中仄仄平平", "中平中仄平"],
        ),
    },
    "西江月": {  # 双调五十字，前后片各两平韵，结句各叶一仄韵
        "lines": ([6, 6, 7, 6], [6, 6, 7, 6]),
        "rhymes": ([2, 3, 4], [2, 3, 4]),
        "rhyme_tones": "平平仄平平仄",
        "kind": "平",  # with the 仄 叶
        "tones": (
            ["中仄中平中仄", "中平中仄平平", "中平中仄仄平平", "中仄中平中仄"],
            ["中仄中平中仄", "中平中仄平平", "中平中仄仄平平", "中仄中平中仄"],
        ),
    },
    "鹧鸪天": {  # 双调五十五字，前片四句三平韵，后片五句三平韵
        "lines": ([7, 7, 7, 7], [3, 3, 7, 7, 7]),
        "rhymes": ([1, 2, 4], [2, 3, 5]),
        "rhyme_tones": "平平平平平平",
        "kind": "平",
        "tones": (
            ["中仄平平中仄平", "中平中仄仄平平", "中平中仄平平仄", "中仄平平中仄平"],
            ["中仄仄", "仄平平", "中平中仄仄平平", "中平中仄平平仄", "中仄平平中仄平"],
        ),
    },
    "水调歌头": {  # 双调九十五字，前片九句四平韵，后片十句四平韵 (苏轼 明月几时有)
        "lines": ([5, 5, 6, 5, 6, 6, 5, 5, 5], [3, 3, 3, 4, 7, 6, 6, 5, 5, 5]),
        "rhymes": ([2, 4, 7, 9], [3, 5, 8, 10]),
        "rhyme_tones": "平" * 8,
        "kind": "平",
    },
    "念奴娇": {  # 双调一百字，前后片各十句四仄韵 (苏轼 凭高眺远)
        "lines": ([4, 5, 4, 7, 6, 4, 4, 5, 4, 6], [6, 4, 5, 7, 6, 4, 4, 5, 4, 6]),
        "rhymes": ([3, 5, 8, 10], [3, 5, 8, 10]),
        "rhyme_tones": "仄" * 8,
        "kind": "仄",
    },
    "满江红": {  # 双调九十三字，前片八句四仄韵，后片十句五仄韵 (岳飞 怒发冲冠)
        "lines": ([4, 3, 4, 3, 4, 4, 7, 7, 3, 5, 3], [3, 3, 3, 3, 5, 4, 7, 7, 3, 5, 3]),
        "rhymes": ([3, 6, 8, 11], [2, 4, 6, 8, 11]),
        "rhyme_tones": "仄" * 9,
        "kind": "仄",
    },
    "沁园春": {  # 双调一百十四字，前片十三句四平韵，后片十二句五平韵
        "lines": ([4, 4, 4, 5, 4, 4, 4, 4, 4, 7, 3, 5, 4], [6, 8, 5, 4, 4, 4, 4, 4, 7, 3, 5, 4]),
        "rhymes": ([3, 7, 10, 13], [1, 2, 6, 9, 12]),
        "rhyme_tones": "平" * 9,
        "kind": "平",
    },
}
# Where the corpus disagrees, and how exactly. 水调歌头: the book's 下片 has 不应有恨，何事长向别时圆
# (4, 7); most poems in the corpus read those eleven characters as 6, 5, as in the 上片.
LAYOUT_DISAGREEMENTS = {"水调歌头": {12: (4, 6), 13: (7, 5)}}  # line: (book, corpus)
# 西江月: the book calls it 平韵 with a 仄 叶 closing each 片; the builder names one rhyme set that
# mixes 平 and 仄 of one 部 通叶.
KIND_DISAGREEMENTS = {"西江月": ("平", "通叶")}


def published_rhymes(name):
    upper, lower = PUBLISHED[name]["lines"]
    above, below = PUBLISHED[name]["rhymes"]
    return [i - 1 for i in above] + [len(upper) + i - 1 for i in below]


@pytest.mark.parametrize("name", PUBLISHED)
def test_derived_layout_and_pian_match_the_published_ones(name):
    form = form_data.load_cipai()[name]
    upper, lower = PUBLISHED[name]["lines"]
    book = upper + lower
    derived = [n for n, _ in form["layout"]]
    assert form["pian"] == len(upper)
    assert len(derived) == len(book)
    differ = {i: (b, d) for i, (b, d) in enumerate(zip(book, derived)) if b != d}
    assert differ == LAYOUT_DISAGREEMENTS.get(name, {})


def test_the_books_shuidiao_layout_is_a_real_variant_of_the_corpus():
    upper, lower = PUBLISHED["水调歌头"]["lines"]
    poems = [p for p in ci.load_corpus() if p.form == "水调歌头"]
    lengths = Counter(tuple(n for n, _ in form_data.layout_of(p.text)) for p in poems)
    book, corpus_layout = tuple(upper + lower), tuple(n for n, _ in form_data.load_cipai()["水调歌头"]["layout"])
    assert lengths[corpus_layout] == max(lengths.values())
    assert lengths[book] / len(poems) > 0.1  # the book's reading: a common variant, not noise


@pytest.mark.parametrize("name", PUBLISHED)
def test_derived_rhymes_match_the_published_ones(name):
    form = form_data.load_cipai()[name]
    template = form["templates"][0]
    book = PUBLISHED[name]
    assert template["rhymes"] == published_rhymes(name)
    assert template["rhyme_tones"] == book["rhyme_tones"]
    assert template["rhyme_sets"] == book.get("rhyme_sets", [0] * len(template["rhymes"]))
    if name in KIND_DISAGREEMENTS:
        assert (book["kind"], form["rhyme_kind"]) == KIND_DISAGREEMENTS[name]
    else:
        assert form["rhyme_kind"] == book["kind"]


@pytest.mark.parametrize("name", [n for n in PUBLISHED if "tones" in PUBLISHED[n]])
def test_derived_tones_never_contradict_the_published_ones(name):
    book = [t for part in PUBLISHED[name]["tones"] for t in part]
    derived = form_data.load_cipai()[name]["templates"][0]["lines"]
    assert [len(t) for t in derived] == [len(t) for t in book]
    pairs = [(b, d) for bl, dl in zip(book, derived) for b, d in zip(bl, dl)]
    assert not [p for p in pairs if "中" not in p and p[0] != p[1]]
    fixed_in_book = [d for b, d in pairs if b != "中"]
    assert sum(d != "中" for d in fixed_in_book) >= 0.9 * len(fixed_in_book)  # the corpus finds them


# -- the derivation on hand-made poems --------------------------------------------------------------

P, Z, EITHER, UNKNOWN = "东", "月", "看", "遍"  # 平, 仄, both readings, not in the book
ODD = "国竹学白日远里草木"  # line ends from many 部 (入声 15-17, 上声 3 and 7 ...)
RHYMES = ["东风中红", "阳光长乡", "天年前边", "流秋楼愁", "花家斜沙", "心深林金"]  # 平 of 部 1 2 7 12 10 13


def quatrain(ends, body="一二三四"):
    marks = "，。，。"
    return "".join(body + e + m for e, m in zip(ends, marks))


def test_dominant_layout_takes_the_most_common_lengths_then_marks():
    texts = ["东风，明月光。"] * 3 + ["东风、明月光。", "东风明月，光。"]
    layout, matching, share, exact = ci_patterns.dominant_layout(texts)
    assert layout == [[2, "，"], [3, "。"]]
    assert len(matching) == 4 and share == 4 / 5 and exact == 3 / 5


def test_tone_classes_follow_the_threshold_among_known_characters():
    columns = [
        P * 9 + Z * 3 + EITHER * 4 + UNKNOWN * 4,  # 9 of 12 known are 平: 0.75 -> 平
        P * 8 + Z * 4 + EITHER * 8,  # 0.67 -> 中
        P * 3 + Z * 9 + UNKNOWN * 8,  # 0.25 -> 仄
        P * 9 + EITHER * 11,  # 9 known < MIN_KNOWN -> 中
    ]
    texts = ["".join(col[i] for col in columns) + "。" for i in range(20)]
    tones, known, _ = ci_patterns.position_tones(texts)
    assert ci_patterns.TONE_THRESHOLD == 0.75 and ci_patterns.MIN_KNOWN == 10
    assert tones == ["平中仄中"] and known == [[12, 12, 12, 9]]


def test_rhyme_lines_are_those_that_share_a_part_far_above_chance():
    texts = [quatrain([ODD[i % 9], RHYMES[i % 6][0], ODD[(i + 4) % 9], RHYMES[i % 6][1]]) for i in range(18)]
    form, stats = ci_patterns.derive_form("fixture", texts)
    template = form["templates"][0]
    assert template["rhymes"] == [1, 3] and template["rhyme_sets"] == [0, 0]
    assert template["rhyme_tones"] == "平平" and form["rhyme_kind"] == "平"
    own, chance = stats["rhyme_line_agreement"]["3"]
    assert own == 1.0 and chance < 0.3


def test_a_change_of_rhyme_makes_two_rhyme_sets():
    ze = ["动孔", "想两", "远晚", "有久"]  # 仄 of 部 1 2 7 12
    texts = [quatrain([ze[i % 4][0], ze[i % 4][1], RHYMES[(i + 1) % 6][2], RHYMES[(i + 1) % 6][3]]) for i in range(16)]
    form, _ = ci_patterns.derive_form("fixture", texts)
    template = form["templates"][0]
    assert template["rhymes"] == [0, 1, 2, 3] and template["rhyme_sets"] == [0, 0, 1, 1]
    assert template["rhyme_tones"] == "仄仄平平" and form["rhyme_kind"] == "换"


def test_pian_is_found_where_the_halves_end_alike():
    layout = [[7, "。"], [7, "。"], [5, "。"], [5, "。"], [5, "。"], [5, "。"], [5, "。"], [5, "。"]]
    tones = ["中平中仄平平仄"] * 2 + [
        "中仄仄平平",
        "中平中仄平",
        "中平平仄仄",
        "中仄平平仄",
        "中仄仄平平",
        "中平中仄平",
    ]
    assert ci_patterns.find_pian(layout, list(range(8)), tones) == 4  # 菩萨蛮: not 5, where the tones part
    single = [[6, "。"], [6, "。"], [5, "，"], [6, "。"], [2, "。"], [2, "。"], [6, "。"]]  # 如梦令
    assert ci_patterns.find_pian(single, [0, 1, 3, 4, 5, 6], ["中" * n for n, _ in single]) is None


def test_the_shi_forms_fit_the_same_structure():
    for name, form in FORMS.items():
        data = form_data.shi_form(name)
        assert data["layout"] == [[form.line_len, "，。"[i % 2]] for i in range(form.num_lines)]
        assert [t["lines"] for t in data["templates"]] == [t["lines"] for t in prosody.templates(form)]
        for template in data["templates"]:
            odd = list(range(1, form.num_lines, 2))
            assert template["rhymes"] == ([0] if template["lines"][0][-1] == "平" else []) + odd


def test_derivation_finds_the_wujue_rhymes_in_the_embedded_corpus():
    texts = [p.text for p in corpus.load()]
    form, _ = ci_patterns.derive_form("五绝", texts)
    assert form["layout"] == form_data.shi_form("五绝")["layout"] and form["layout_share"] == 1.0
    template = form["templates"][0]
    assert template["rhymes"] == [1, 3] and template["rhyme_tones"] == "平平" and form["rhyme_kind"] == "平"
    assert template["lines"][2][-1] == "仄"  # 平 rhymes are the majority only: 古绝 rhyme in 仄 too


# -- the 词 builder on a small package ---------------------------------------------------------------


def write_package(root):
    songci = root / "package" / "dist" / "songci"
    huajian = root / "package" / "dist" / "wudaishici" / "huajianji"
    songci.mkdir(parents=True)
    huajian.mkdir(parents=True)
    records = [
        {"author": "甲", "rhythmic": "浣溪沙", "paragraphs": ["一曲新词酒一杯,去年天气旧亭台.", "夕阳西下几时回?"]},
        {"author": "乙", "rhythmic": "酹江月・念奴娇", "paragraphs": ["大江东去，浪淘尽、千古风流人物。"]},
        {"author": "丙", "rhythmic": "失调名", "paragraphs": ["春风吹。"]},
        {"author": "丁", "rhythmic": "浣溪沙", "paragraphs": ["□□新词，酒一杯。"]},
        {"author": "戊", "rhythmic": "浣溪沙", "paragraphs": ["新词（缺）。"]},
        {"author": "己", "rhythmic": "浣溪沙", "paragraphs": ["新词……酒一杯。"]},
        {"author": "庚", "rhythmic": "浣溪沙", "paragraphs": ["新词け酒。"]},
        {"author": "辛", "rhythmic": "浣溪沙", "paragraphs": ["新词，，酒一杯。"]},
        {"author": "壬", "rhythmic": "浣溪沙", "paragraphs": ["新词，酒一杯"]},
        {"author": "癸", "rhythmic": 3, "paragraphs": ["新词。"]},
    ]
    (songci / "ci.song.0.json").write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    (songci / "宋词三百首.json").write_text(json.dumps(records[:1], ensure_ascii=False), encoding="utf-8")
    wudai = [
        {
            "author": "溫庭筠",
            "rhythmic": "菩薩蠻",
            "title": "菩萨蛮 其一",
            "paragraphs": ["小山重疊金明滅：鬢雲欲度香腮雪。"],
        },
        {
            "author": "甲",
            "rhythmic": "浣溪沙",
            "title": "浣溪沙",
            "paragraphs": ["一曲新词酒一杯，去年天气旧亭台。夕阳西下几时回？"],
        },
    ]
    (huajian / "huajianji-1-juan.json").write_text(json.dumps(wudai, ensure_ascii=False), encoding="utf-8")
    return root / "package"


def test_the_builder_normalizes_keeps_the_tune_and_counts_what_it_drops(tmp_path):
    poems, report = ci.build(write_package(tmp_path))
    assert [(p.text, p.form, p.title, p.dynasty) for p in poems] == [
        ("一曲新词酒一杯，去年天气旧亭台。夕阳西下几时回？", "浣溪沙", "浣溪沙", "宋"),
        ("大江东去，浪淘尽、千古风流人物。", "念奴娇", "酹江月", "宋"),
        ("小山重叠金明灭，鬓云欲度香腮雪。", "菩萨蛮", "菩萨蛮", "五代"),
    ]
    assert poems[2].author == "温庭筠"
    assert report["dropped"] == {
        "malformed record": 1,
        "no 词牌 name (失调名, □□□)": 1,
        "lost characters (□)": 1,
        "editorial note in brackets": 1,
        "elided text (…)": 1,
        "other non-Chinese characters (mojibake)": 1,
        "empty line (two marks in a row)": 1,
        "unfinished (does not end in 。？！)": 1,
        "duplicate text": 1,
    }
    assert report["records read (宋)"] == 10 and report["records read (五代)"] == 2  # not 宋词三百首.json
    assert report["records under an alias (调名・本调)"] == 1


def test_tune_names():
    assert ci.tune_name("酹江月・念奴娇") == ("念奴娇", "酹江月")
    assert ci.tune_name("“僮至”念奴娇") == ("念奴娇", "念奴娇")
    assert ci.tune_name("□□□・鹧鸪天") == ("鹧鸪天", "鹧鸪天")
    assert ci.tune_name("□□□") is None and ci.tune_name("失调名") is None


# -- the committed data against the builder's reports ----------------------------------------------


def test_the_ci_corpus_matches_its_report():
    poems = ci.load_corpus()
    summary = json.loads(corpus.stats_path(ci.DEFAULT_CORPUS).read_text(encoding="utf-8"))
    assert {k: summary[k] for k in ci.corpus_stats(poems)} == ci.corpus_stats(poems)
    report = summary["report"]
    read = report["records read (宋)"] + report["records read (五代)"]
    assert read - sum(report["dropped"].values()) == report["poems kept"] == len(poems)
    assert len({p.text for p in poems}) == len(poems)


def test_the_patterns_are_what_the_committed_corpus_derives():
    poems = ci.load_corpus()
    forms, summary = ci_patterns.derive(poems)
    assert forms == list(form_data.load_cipai().values())
    stored = json.loads(corpus.stats_path(form_data.CIPAI).read_text(encoding="utf-8"))
    assert {k: stored[k] for k in summary} == json.loads(json.dumps(summary))
    counts = Counter(p.form for p in poems)
    assert all(f["poems"] == counts[f["name"]] >= 20 for f in forms)
    assert len(forms) == sum(n >= 20 for n in counts.values())


def test_every_pattern_is_consistent():
    for form in form_data.load_cipai().values():
        template = form["templates"][0]
        assert [len(t) for t in template["lines"]] == [n for n, _ in form["layout"]]
        assert form["layout"][-1][1] in form_data.STOPS
        assert len(template["rhymes"]) == len(template["rhyme_sets"]) == len(template["rhyme_tones"])
        assert form["pian"] is None or form["layout"][form["pian"] - 1][1] in form_data.STOPS
    assert form_data.find_cipai("水調歌頭")["name"] == "水调歌头"


def test_every_character_has_the_cilin_parts_of_its_tones():
    table = json.loads(prosody.TABLE.read_text(encoding="utf-8"))
    parts, names = form_data.load_cilin()
    assert len(names) == 19
    for script in ("simplified", "traditional"):
        for ch, (tone, _) in table[script].items():
            ping, ze = table["cilin"][script][ch]
            assert bool(ping) == (tone in "PE") and bool(ze) == (tone in "ZE"), ch
            assert bool(table["ze_members"][script].get(ch)) == (tone in "ZE"), ch
    named = {ch: ([names[i] for i in p], [names[i] for i in z]) for ch, (p, z) in parts.items()}
    assert named["东"] == (["第一部"], []) and named["动"] == ([], ["第一部"])
    assert named["来"] == (["第五部"], []) and named["杯"] == (["第三部"], [])  # 十灰 split: 咍 / 灰
    assert named["门"] == (["第六部"], []) and named["园"] == (["第七部"], [])  # 十三元 split: 魂 / 元
    assert named["家"] == (["第十部"], []) and named["月"] == ([], ["第十八部"])
