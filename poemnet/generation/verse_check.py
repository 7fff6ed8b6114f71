"""Whether a written poem rhymes and which 平仄 templates it follows, by the 平水韵 table of either
script: the evaluation measures with these, and the script conversion keeps them true."""

from poemnet.common import prosody


def rhyme_positions(text, form, script="simplified"):
    """The even lines' last characters, and the first line's when it ends in a 平-only character."""
    positions = [form.line_end(i) for i in range(1, form.num_lines, 2)]
    first = form.line_end(0)
    if prosody.char_info(text[first], script)[0] == prosody.PING:
        positions.insert(0, first)
    return positions


def shared_groups(text, form, script="simplified"):
    """The 平 groups every rhyming line end belongs to (empty: the poem does not rhyme)."""
    shared = None
    for position in rhyme_positions(text, form, script):
        tone, groups = prosody.char_info(text[position], script)
        if tone not in (prosody.PING, prosody.EITHER) or not groups:
            return set()
        shared = set(groups) if shared is None else shared & set(groups)
    return shared or set()


def rhymes(text, form, script="simplified"):
    """Even lines (and line 1 when it ends in a 平-only character) end in characters that share
    a 平 group of the 平水韵."""
    return bool(shared_groups(text, form, script))


def repeats_rhyme(text, form, script="simplified"):
    """重韵: a character ends two of the lines that rhyme."""
    ends = [text[p] for p in rhyme_positions(text, form, script)]
    return len(set(ends)) < len(ends)


def ambiguous_end(text, form, script="simplified"):
    """A line that must not rhyme ends in a character a reader could take for a rhyme: lines 3, 5,
    7 in one with a 平 reading (平 or either); line 1 in an "either" character (a 平-only one
    rhymes there, a 仄-only one does not: only an either leaves the reader guessing)."""
    for line in range(0, form.num_lines, 2):
        tone, _ = prosody.char_info(text[form.line_end(line)], script)
        if tone == prosody.EITHER or (line > 0 and tone == prosody.PING):
            return True
    return False


def fits_mark(mark, tone):
    """Whether a character of tone class `tone` may stand where a template says 平, 仄 or 中."""
    if mark == "中" or tone == prosody.EITHER:
        return True
    return tone != prosody.UNKNOWN and (mark == "平") == (tone == prosody.PING)


def matching_templates(text, form, script="simplified"):
    """Names of the form's templates that the poem's 平仄 follows (unknown characters fit only 中)."""
    chars = "".join(line[:-1] for line in form.lines(text))
    tones = [prosody.char_info(ch, script)[0] for ch in chars]
    return [
        template["name"]
        for template in prosody.templates(form)
        if all(fits_mark(mark, tone) for mark, tone in zip("".join(template["lines"]), tones))
    ]
