"""Forms as layouts: the four regulated 诗 forms and the 词牌, one structure (numpy-free, torch-free).

A form is a sequence of lines, each a number of characters closed by one punctuation mark. A poem is
stored as one string of its lines: 五绝 is "XXXXX，XXXXX。XXXXX，XXXXX。"; a 词 is, say, 浣溪沙's six
lines of seven closed by 。。。，。。, its 下片 starting at line 3. Positions count characters and
punctuation from 0. The 词牌's layouts are data (poemnet/data/cipai.json, read by form_data.py and
carried in a model file); the four 诗 forms are FORMS below.
"""

import re
from dataclasses import dataclass
from functools import cached_property

COMMA, PERIOD = "，", "。"
PUNCTUATION = "，。、？！；"  # each ends a line; a 诗 uses only the first two

# CJK Unified Ideographs with extension A, the compatibility block and the supplementary planes:
# the chinese-poetry corpus uses rare characters from all of them.
HANZI_RANGES = ((0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF), (0x20000, 0x3134F))  # inclusive
HANZI = "".join(f"{chr(lo)}-{chr(hi)}" for lo, hi in HANZI_RANGES)  # for regex character classes


def is_hanzi(ch):
    return len(ch) == 1 and any(lo <= ord(ch) <= hi for lo, hi in HANZI_RANGES)


@dataclass(frozen=True)
class Form:
    name: str
    layout: tuple  # ((characters in the line, the punctuation mark after it), ...)
    kind: str = "诗"  # "诗" (a regulated form) or "词" (a 词牌)
    pian: int = None  # the first line of the 下片 (a 双调 词牌), else None
    traditional: str = None  # the name in traditional characters, where it differs

    @classmethod
    def regular(cls, name, line_len, num_lines):
        """A 诗 form: `num_lines` lines of `line_len`, closed by ，and 。 in turn."""
        return cls(name, tuple((line_len, COMMA if i % 2 == 0 else PERIOD) for i in range(num_lines)))

    @property
    def num_lines(self):
        return len(self.layout)

    @property
    def line_lengths(self):
        return [n for n, _ in self.layout]

    @property
    def line_len(self):
        """Characters per line where every line has as many (a 诗 form), else None."""
        lengths = {n for n, _ in self.layout}
        return lengths.pop() if len(lengths) == 1 else None

    @cached_property
    def _starts(self):
        """The position of each line's first character, and the poem's length after the last."""
        starts = [0]
        for n, _ in self.layout:
            starts.append(starts[-1] + n + 1)
        return tuple(starts)

    @property
    def length(self):
        """Characters and punctuation in the whole poem."""
        return self._starts[-1]

    def line_position(self, line):
        """The position of line `line`'s first character."""
        return self._starts[line]

    def line_end(self, line):
        """The position of line `line`'s last character (before its punctuation)."""
        return self._starts[line + 1] - 2

    @cached_property
    def _slots(self):
        return tuple(mark if col == n else "char" for n, mark in self.layout for col in range(n + 1))

    def slot(self, position):
        """What belongs at `position`: 'char', the line's punctuation mark, or 'end' after the poem."""
        return self._slots[position] if position < self.length else "end"

    @cached_property
    def _lines_at(self):
        return tuple((line, col) for line, (n, _) in enumerate(self.layout) for col in range(n + 1))

    def locate(self, position):
        """(line, column) of a position inside the poem (the column of the punctuation is the line's
        length), or (None, None) after it."""
        return self._lines_at[position] if 0 <= position < self.length else (None, None)

    def line_start(self, position):
        """The line index if `position` is the first character of a line, else None."""
        line, col = self.locate(position)
        return line if col == 0 else None

    @cached_property
    def _regex(self):
        return re.compile("".join(f"[{HANZI}]{{{n}}}{re.escape(mark)}" for n, mark in self.layout))

    def matches(self, text):
        return self._regex.fullmatch(text) is not None

    def lines(self, text):
        """The poem's lines, each with its punctuation mark."""
        return [text[start:end] for start, end in zip(self._starts, self._starts[1:])]

    def pian_lines(self, text):
        """The poem's lines in its 片: one list for a 单调 form, two for a 双调 one."""
        lines = self.lines(text)
        return [lines] if self.pian is None else [lines[: self.pian], lines[self.pian :]]


FORMS = {
    f.name: f
    for f in (
        Form.regular("五绝", 5, 4),
        Form.regular("七绝", 7, 4),
        Form.regular("五律", 5, 8),
        Form.regular("七律", 7, 8),
    )
}


def detect_form(text):
    """The 诗 form whose exact layout `text` has, or None."""
    for form in FORMS.values():
        if form.matches(text):
            return form
    return None
