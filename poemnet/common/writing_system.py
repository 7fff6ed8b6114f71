"""Map a character into the model's script (simplified or traditional) with OpenCC."""

from functools import cache

from poemnet.common.errors import UserError
from poemnet.common.forms import is_hanzi


@cache
def _converter(config):
    import opencc

    return opencc.OpenCC(config)


def to_model_char(ch, vocab, script, what):
    """`ch` itself if the model knows it, else its conversion into the model's script."""
    if not is_hanzi(ch):
        raise UserError(f"{what} {ch!r} is not a Chinese character: pass one such as 月")
    if ch in vocab:
        return ch
    converted = _converter("t2s" if script == "simplified" else "s2t").convert(ch)
    if converted in vocab:
        return converted
    raise UserError(f"{what} {ch!r} is not in the model's vocabulary: choose a more common character")


def to_simplified(text):
    """OpenCC t2s of a short string (a rhyme group's name as the user typed it)."""
    try:
        return _converter("t2s").convert(text)
    except ImportError:  # an inference-only install may lack OpenCC: simplified input still works
        return text
