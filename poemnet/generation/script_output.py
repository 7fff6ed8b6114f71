"""A written poem in the other script: traditional characters from a simplified model, or back.

OpenCC converts the poem (phrase by phrase, for the usual readings). A simplified character can
stand for several traditional ones of different tones (干: 乾 平, 幹 仄), and the simplified
table unites them; so wherever the poem's rhyme or 平仄 template fixes a character's class, a
traditional character that the rhyme book gives that class replaces OpenCC's choice when that one
lacks it: the printed poem rhymes and follows its template by the traditional table too.
"""

from functools import cache

from poemnet.common import prosody
from poemnet.common.errors import UserError
from poemnet.generation import verse_check

SCRIPTS = ("simplified", "traditional")


@cache
def _opencc(config):
    try:
        import opencc
    except ImportError:
        raise UserError("printing the other script needs OpenCC: pip install opencc")
    return opencc.OpenCC(config)


def _convert(text, config):
    """OpenCC's conversion, character for character when a phrase changed the length."""
    converted = _opencc(config).convert(text)
    if len(converted) == len(text):
        return converted
    return "".join(_opencc(config).convert(ch)[:1] or ch for ch in text)


@cache
def _traditional_forms():
    """{simplified character: the traditional characters of the rhyme book that OpenCC maps to it}."""
    table, _ = prosody.load_table("traditional")
    keys = list(table)
    forms = {}
    for traditional, simplified in zip(keys, _opencc("t2s").convert("\n".join(keys)).split("\n")):
        forms.setdefault(simplified, []).append(traditional)
    return forms


def to_script(text, form, source, target, preferred=None, template=None, rhyme_group=None):
    """`text` (a poem of `form` written in `source`) in `target`; `preferred` {position: character}
    are the user's own characters (a start or acrostic typed in the target script), kept where
    they fit; `template` and `rhyme_group` name the ones the poem reports, kept first."""
    if source == target:
        return text
    if target == "simplified":  # the simplified table unites the traditional classes: every check still holds
        return _convert(text, "t2s")
    chars = list(_convert(text, "s2t"))
    for position, ch in (preferred or {}).items():
        if ch != text[position]:
            chars[position] = ch
    for position, fits in requirements(text, form, template, rhyme_group).items():
        options = [chars[position], *_traditional_forms().get(text[position], [])]
        chars[position] = next((c for c in options if fits(*prosody.char_info(c, "traditional"))), chars[position])
    return "".join(chars)


def requirements(text, form, template=None, rhyme_group=None):
    """{position: fits(tone, groups)} for the characters whose class the simplified poem's rhyme
    and template rely on."""
    if form.kind == "词":
        from poemnet.generation.ci_check import script_requirements

        return script_requirements(text, form)
    checks = {}

    def need(position, check):
        checks.setdefault(position, []).append(check)

    followed = verse_check.matching_templates(text, form)
    if followed:
        chosen = template if template in followed else followed[0]
        marks = next(t["lines"] for t in prosody.templates(form) if t["name"] == chosen)
        for line, row in enumerate(marks):
            for col, mark in enumerate(row):
                if mark != "中":
                    need(form.line_position(line) + col, lambda tone, _, m=mark: verse_check.fits_mark(m, tone))
    groups = verse_check.shared_groups(text, form)
    if groups:
        names = prosody.load_table()[1]
        group = names.index(rhyme_group) if rhyme_group in names and names.index(rhyme_group) in groups else min(groups)
        rhyming = verse_check.rhyme_positions(text, form)
        for position in rhyming:
            need(position, lambda tone, gids: tone in (prosody.PING, prosody.EITHER) and group in gids)
        first = form.line_end(0)
        if first not in rhyming:  # a 平-only traditional ending would make the first line rhyme, or fail to
            need(first, lambda tone, gids: tone != prosody.PING or group in gids)
    return {p: (lambda tone, gids, cs=cs: all(c(tone, gids) for c in cs)) for p, cs in checks.items()}
