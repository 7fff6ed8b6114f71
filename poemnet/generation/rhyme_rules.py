"""The rhyme rules (rules.py re-exports them): where a line must end in a rhyme, and in which group.

A 诗 rhymes in one 平水韵 平 group: its even lines (and the first, where its template ends it in
平). A 词 rhymes as its 词牌's template says: each rhyme line in its own tone (rhyme_tones), each
rhyme set (rhyme_sets) in one 词林正韵 部. No line ends in a character an earlier line ended in.
"""

import numpy as np

from poemnet.common.errors import UserError
from poemnet.common.form_data import shi_rhymes


def rhymes_at_line(template_lines, line):
    """Even lines rhyme; line 1 rhymes when its template ends it in 平 (a 诗 template)."""
    return line % 2 == 1 or (line == 0 and template_lines[0][-1] == "平")


def rhyme_lines(template):
    """{line: the tone its rhyme is taken in} of a template: its own rhymes where it gives them (a
    词牌's, and a 诗 form's from format 3 on), else the 诗 rule's, all in 平."""
    if "rhymes" in template:
        return dict(zip(template["rhymes"], template["rhyme_tones"]))
    return {line: "平" for line in shi_rhymes(template["lines"])}


def end_mask(form, prosody, rhyme_tone, mark):
    """What may end a line when the rhyme rule is on (None: anything).

    A 诗's rhyme line ends in a rhyme character (平 only, one 平 group) and every other line in a
    仄-only one (a character with a 平 reading would seem to rhyme). A 词's rhyme line ends in a
    character of its rhyme tone only, in one 部 of that tone; another line that its template ends
    in 仄 ends in a 仄-only character, for the same reason; one it ends in 平 or 中 keeps its tone.
    """
    if form.kind == "诗":
        return prosody.rhyme_char if rhyme_tone else prosody.ze_only
    if rhyme_tone is not None:
        return (prosody.part_ping if rhyme_tone == "平" else prosody.part_ze) >= 0
    return {"仄": prosody.ze_only, "平": prosody.ping}.get(mark)


def form_template(prosody, form):
    """The one template of a 词牌 (its derived pattern), from the model's prosody data."""
    return prosody.templates[form.name][0]


def rhyme_rule(form, prosody):
    """Without a template: a 诗's lines 2, 4, 6, 8 end in a rhyme character; line 1 in a rhyme
    character or a 仄-only one; lines 3, 5, 7 in a 仄-only one (a character with a 平 reading would
    seem to rhyme). A 词's line ends as end_mask says under its 词牌's template. No line ends in a
    character that ended an earlier line (重韵)."""
    ends = [form.line_end(line) for line in range(form.num_lines)]
    masks = {}
    if form.kind == "诗":
        for line, end in enumerate(ends):
            if line % 2 == 1:
                masks[end] = prosody.rhyme_char
            else:
                masks[end] = prosody.ze_only | (prosody.rhyme_char if line == 0 else False)
    else:
        template = form_template(prosody, form)
        rhymes = rhyme_lines(template)
        for line, end in enumerate(ends):
            masks[end] = end_mask(form, prosody, rhymes.get(line), template["lines"][line][-1])
    everything = np.ones(len(prosody.ping), bool)

    def rule(position, history):
        if position not in masks:
            return None
        base = masks[position]
        earlier = [p for p in ends if p < position]
        if not earlier:
            return base
        mask = np.repeat((everything if base is None else base)[None, :], len(history), axis=0)
        mask[np.repeat(np.arange(len(history)), len(earlier)), history[:, earlier].ravel()] = False
        return mask

    return rule


class RhymeGroupRule:
    """Every rhyme character at a line end in one group: the given one, or the first drawn. A 诗
    rhymes in one 平水韵 平 group; each rhyme set of a 词 in one 词林正韵 部 (a 平 group given
    with --rhyme stands for its 部, and sets every rhyme set's)."""

    def __init__(self, form, prosody, group=None):
        self.prosody, self.form = prosody, form
        self.offset = prosody.num_groups or len(prosody.group_names)  # the 部 follow the 平 groups
        if form.kind == "诗":
            if group is not None and group >= self.offset:
                raise UserError(
                    f"--rhyme {prosody.group_names[group]} is a 词林正韵 部: a 诗 rhymes in one 平水韵 平 group, "
                    "such as 东, 一东 or 下平声七阳"
                )
            self.fixed = group
            self.ends = [form.line_end(line) for line in range(form.num_lines)]
            return
        t = form_template(prosody, form)
        self.lines = {form.line_end(i): (s, tone) for i, s, tone in zip(t["rhymes"], t["rhyme_sets"], t["rhyme_tones"])}
        self.ends = sorted(self.lines)
        self.fixed = (
            None if group is None else group - self.offset if group >= self.offset else prosody.group_part[group]
        )

    def _parts(self, tone):
        return self.prosody.part_ping if tone == "平" else self.prosody.part_ze

    def _set_part(self, history, rhyme_set):
        """int [B]: each row's 部 for one rhyme set of a 词, -1 while none is set."""
        n = len(history)
        if self.fixed is not None:
            return np.full(n, self.fixed)
        drawn = [(p, tone) for p, (s, tone) in self.lines.items() if s == rhyme_set and p < history.shape[1]]
        if not drawn:
            return np.full(n, -1)
        parts = np.stack([self._parts(tone)[history[:, p]] for p, tone in sorted(drawn)], axis=1)
        first = np.argmax(parts >= 0, axis=1)
        return np.where((parts >= 0).any(axis=1), parts[np.arange(n), first], -1)

    def group(self, history):
        """int [B]: each row's rhyme group (for a 词, the 部 of its first rhyme set, counted after the
        平 groups in group_names), -1 while none is set."""
        n = len(history)
        if self.form.kind == "词":
            if not self.ends:
                return np.full(n, -1)
            part = self._set_part(history, self.lines[self.ends[0]][0])
            return np.where(part >= 0, part + self.offset, -1)
        if self.fixed is not None:
            return np.full(n, self.fixed)
        ends = [p for p in self.ends if p < history.shape[1]]
        if not ends:
            return np.full(n, -1)
        groups = self.prosody.rhyme_group[history[:, ends]]
        first = np.argmax(groups >= 0, axis=1)
        return np.where((groups >= 0).any(axis=1), groups[np.arange(n), first], -1)

    def __call__(self, position, history):
        if position not in self.ends:
            return None
        if self.form.kind == "词":
            rhyme_set, tone = self.lines[position]
            group, parts = self._set_part(history, rhyme_set), self._parts(tone)
            rhymes = parts >= 0
        else:
            group, parts, rhymes = self.group(history), self.prosody.rhyme_group, self.prosody.rhyme_char
        if (group < 0).all():
            return None
        mask = ~rhymes[None, :] | (parts[None, :] == group[:, None])
        mask[group < 0] = True
        return mask
