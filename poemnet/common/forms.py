"""The four regulated forms and their exact layout (numpy-free, torch-free).

A poem is stored as one string of lines, each line ending in a comma (odd lines) or a full stop
(even lines): 五绝 is "XXXXX，XXXXX。XXXXX，XXXXX。".
"""

import re
from dataclasses import dataclass

COMMA, PERIOD = "，", "。"

# CJK Unified Ideographs with extension A, the compatibility block and the supplementary planes:
# the chinese-poetry corpus uses rare characters from all of them.
HANZI_RANGES = ((0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF), (0x20000, 0x3134F))  # inclusive
HANZI = "".join(f"{chr(lo)}-{chr(hi)}" for lo, hi in HANZI_RANGES)  # for regex character classes


def is_hanzi(ch):
    return len(ch) == 1 and any(lo <= ord(ch) <= hi for lo, hi in HANZI_RANGES)


@dataclass(frozen=True)
class Form:
    name: str
    line_len: int  # characters per line, punctuation excluded
    num_lines: int

    @property
    def length(self):
        """Characters and punctuation in the whole poem."""
        return self.num_lines * (self.line_len + 1)

    def slot(self, position):
        """What belongs at `position` (0-based, counting punctuation): 'char', COMMA, PERIOD or 'end'."""
        if position >= self.length:
            return "end"
        line, col = divmod(position, self.line_len + 1)
        if col < self.line_len:
            return "char"
        return COMMA if line % 2 == 0 else PERIOD

    def line_start(self, position):
        """The line index if `position` is the first character of a line, else None."""
        line, col = divmod(position, self.line_len + 1)
        return line if col == 0 and line < self.num_lines else None

    def matches(self, text):
        return _form_regex(self.line_len, self.num_lines).fullmatch(text) is not None

    def lines(self, text):
        step = self.line_len + 1
        return [text[i : i + step] for i in range(0, len(text), step)]


def _form_regex(line_len, num_lines):
    couplet = f"[{HANZI}]{{{line_len}}}{COMMA}[{HANZI}]{{{line_len}}}{PERIOD}"
    return re.compile(f"(?:{couplet}){{{num_lines // 2}}}")


FORMS = {f.name: f for f in (Form("五绝", 5, 4), Form("七绝", 7, 4), Form("五律", 5, 8), Form("七律", 7, 8))}


def detect_form(text):
    """The form whose exact layout `text` has, or None."""
    for form in FORMS.values():
        if form.matches(text):
            return form
    return None
