"""What a poem is about: a title prefix, keywords that must appear, a given first line.

- A title is a prefix the model reads before the form token (<bos> title <title> <form> poem),
  for a model trained with titles; a model without the <title> token refuses one.
- A keyword appears in the poem, contiguously, inside one line, and not on the line's last
  character (that place belongs to the rhyme and tone rules). The model chooses where: once a
  line's last characters begin an unplaced keyword, the rule forces the rest; when a keyword can
  no longer wait (as many keywords left as lines), the rule starts it at the line's beginning.
- A first line is forced character by character (a hard rule, like an acrostic).
"""

import numpy as np

from poemnet.common.errors import UserError
from poemnet.common.forms import is_hanzi
from poemnet.common.writing_system import to_model_char

MAX_TITLE = 12  # the builder cuts titles at this length too


def title_prefix_ids(vocab, title):
    """Token ids of a title already in the model's characters (title_prefix checks and maps one)."""
    return [] if not title else [vocab.index[ch] for ch in title] + [vocab.title_end_id]


def check_title(vocab, script, title):
    """The title in the model's characters, checked; None for no title."""
    if title is None:
        return None
    if vocab.title_end_id is None:
        raise UserError("this model was not trained with titles: leave out --title, or use a model that knows them")
    title = title.strip()
    if not title:
        raise UserError("--title is empty: give a title such as 秋夜寄友, or leave it out")
    if len(title) > MAX_TITLE:
        raise UserError(f"--title {title!r} has {len(title)} characters, at most {MAX_TITLE}: shorten it")
    return "".join(to_model_char(ch, vocab, script, "--title character") for ch in title)


def check_keywords(vocab, script, form, keywords):
    """The keywords in the model's characters, each checked to fit inside one line before its end."""
    result = []
    room = min(form.line_lengths) - 1
    for word in keywords or ():
        word = word.strip()
        if not word:
            raise UserError("--keywords has an empty keyword: separate keywords with commas, e.g. 江,月,孤舟")
        if len(word) > room:
            raise UserError(
                f"--keywords {word!r} has {len(word)} characters; in a {form.name} a keyword fits in {room}: shorten it"
            )
        result.append("".join(to_model_char(ch, vocab, script, "--keywords character") for ch in word))
    if len(result) > form.num_lines:
        raise UserError(
            f"--keywords gives {len(result)} keywords for the {form.num_lines} lines of a {form.name}: "
            "give at most one per line"
        )
    return tuple(result)


def check_first_line(vocab, script, form, text):
    """A given first line in the model's characters, checked against the form's layout; None for none."""
    if text is None:
        return None
    text = text.strip().rstrip("，。、？！；,.")
    odd = next((ch for ch in text if not is_hanzi(ch)), None)
    if odd is not None:
        raise UserError(
            f"--first-line {text!r} holds {odd!r}, not a Chinese character: give the line's characters "
            "only, e.g. 床前明月光"
        )
    length = form.line_lengths[0]
    if len(text) != length:
        raise UserError(
            f"--first-line {text!r} has {len(text)} characters; the first line of a {form.name} has {length}"
        )
    return "".join(to_model_char(ch, vocab, script, "--first-line character") for ch in text)


def forced_rule(positions, size):
    """A hard rule: {position: token id} forced (a first line)."""
    masks = {}
    for position, token in positions.items():
        masks[position] = np.zeros(size, bool)
        masks[position][token] = True

    def rule(position, history):
        return masks.get(position)

    return rule


def line_spans(form):
    """[(start position, length)] of each line."""
    return [(form.line_position(line), length) for line, length in enumerate(form.line_lengths)]


def keyword_rule(form, keywords, size):
    """The soft rule that places every keyword (lists of token ids) inside one line of the poem."""
    spans = line_spans(form)

    def placed(row, upto):
        """Keyword indices found complete in the row's finished text before `upto`."""
        found = set()
        for start, length in spans:
            line = list(row[start : min(start + length, upto)])
            for k, word in enumerate(keywords):
                n = len(word)
                if any(line[i : i + n] == word for i in range(len(line) - n + 1)):
                    found.add(k)
        return found

    def wanted(row, position):
        """The token this row must write at `position`, or None."""
        line = next((i for i, (s, n) in enumerate(spans) if s <= position < s + n), None)
        if line is None:
            return None
        start, length = spans[line]
        col, done = position - start, placed(row, position)
        open_words = [k for k in range(len(keywords)) if k not in done]
        written = list(row[start:position])
        for k in open_words:  # a keyword already begun in this line: continue it
            word = keywords[k]
            for j in range(min(len(word) - 1, col), 0, -1):
                if written[col - j :] == word[:j] and col - j + len(word) <= length - 1:
                    return word[j]
        if col == 0 and open_words and len(open_words) >= len(spans) - line:  # no line to spare
            return keywords[open_words[0]][0]
        return None

    def rule(position, history):
        if not keywords:
            return None
        tokens = [wanted(row, position) for row in history]
        if all(t is None for t in tokens):
            return None
        mask = np.ones((len(history), size), bool)
        for r, token in enumerate(tokens):
            if token is not None:
                mask[r] = False
                mask[r, token] = True
        return mask

    rule.placed = lambda history: [sorted(placed(row, len(row))) for row in history]
    return rule
