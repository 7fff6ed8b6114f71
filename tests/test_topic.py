"""Titles, keywords and a first line as rules: unit tests on hand-made histories."""

import numpy as np
import pytest

from poemnet.common.errors import UserError
from poemnet.common.forms import FORMS
from poemnet.common.vocab import Vocab
from poemnet.generation import topic

WUJUE = FORMS["五绝"]
VOCAB = Vocab.build(["江月孤舟一山水风花人，。"], titles=True)
IDS = {ch: VOCAB.index[ch] for ch in "江月孤舟一山水风花人"}


def history(text):
    """Token ids of a poem's beginning, punctuation included."""
    return np.array([[VOCAB.index[ch] for ch in text]], np.int64)


def forced(rule, text):
    mask = rule(len(text), history(text))
    if mask is None:
        return None
    allowed = np.flatnonzero(mask[0])
    return VOCAB.tokens[allowed[0]] if len(allowed) == 1 else None


def test_a_begun_keyword_is_continued_inside_its_line():
    rule = topic.keyword_rule(WUJUE, [[IDS["孤"], IDS["舟"]]], len(VOCAB))
    assert forced(rule, "山水孤") == "舟"
    assert forced(rule, "山水") is None  # nothing begun, and lines to spare
    assert forced(rule, "山水风孤") is None  # 孤 at the 4th character: 舟 would take the rhyme's place


def test_a_keyword_that_cannot_wait_starts_a_line():
    rule = topic.keyword_rule(WUJUE, [[IDS["江"]], [IDS["孤"], IDS["舟"]]], len(VOCAB))
    assert forced(rule, "山水风花人，山水风花人。山水风花人，") == "江"  # 2 keywords, 1 line left: too late for both
    assert forced(rule, "山水风花人，山水风花人。") == "江"  # 2 keywords, 2 lines left
    assert forced(rule, "山水风花人，") is None
    assert forced(rule, "江水风花人，山水风花人。") is None  # 江 is placed; 孤舟 can still wait a line
    assert forced(rule, "江水风花人，山水风花人。山水风花人，") == "孤"
    placed = rule.placed(history("江水孤舟人，"))
    assert placed == [[0, 1]]


def test_title_first_line_and_keywords_are_checked_with_one_clear_message():
    assert topic.check_title(VOCAB, "simplified", "江月") == "江月"
    assert topic.title_prefix_ids(VOCAB, "江月") == [IDS["江"], IDS["月"], VOCAB.title_end_id]
    assert topic.check_title(VOCAB, "simplified", None) is None and topic.title_prefix_ids(VOCAB, None) == []
    for bad, fragment in [("", "is empty"), ("江" * 13, "at most 12"), ("江龍", "not in the model's vocabulary")]:
        with pytest.raises(UserError, match=fragment):
            topic.check_title(VOCAB, "simplified", bad)
    untitled = Vocab.build(["江月，。"])
    with pytest.raises(UserError, match="not trained with titles"):
        topic.check_title(untitled, "simplified", "江月")
    assert topic.check_first_line(VOCAB, "simplified", WUJUE, "江月孤舟人，") == "江月孤舟人"
    with pytest.raises(UserError, match="has 4 characters; the first line of a 五绝 has 5"):
        topic.check_first_line(VOCAB, "simplified", WUJUE, "江月孤舟")
    assert topic.check_keywords(VOCAB, "simplified", WUJUE, [" 江", "孤舟"]) == ("江", "孤舟")
    with pytest.raises(UserError, match="fits in 4"):
        topic.check_keywords(VOCAB, "simplified", WUJUE, ["江月孤舟人"])
    with pytest.raises(UserError, match="empty keyword"):
        topic.check_keywords(VOCAB, "simplified", WUJUE, ["江", " "])
    with pytest.raises(UserError, match="at most one per line"):
        topic.check_keywords(VOCAB, "simplified", WUJUE, list("江月孤舟人"))


@pytest.mark.parametrize("form", list(FORMS))
def test_a_first_line_and_keywords_hold_with_every_rule_on_the_shipped_model(form):
    from poemnet.generation.model_choice import SHIPPED_MODEL
    from poemnet.generation.request import Request, prepare, write
    from poemnet.generation.runtime import PoemModel

    model = PoemModel(SHIPPED_MODEL)
    first = {"五绝": "床前明月光", "七绝": "朝辞白帝彩云间", "五律": "国破山河在", "七律": "风急天高猿啸哀"}[form]
    ask = Request(
        form=form, first_line=first, keywords=("江", "孤舟"), rhyme="", tones=True, no_repeat=True, n=8, seed=2
    )
    for poem in write(model, prepare(model, ask)):
        lines = FORMS[form].lines(poem["text"])
        assert lines[0][:-1] == first
        keywords_kept = not any("keywords" in r["relaxed"] for r in poem["relaxed"])
        assert keywords_kept == all(any(w in line[:-1] for line in lines) for w in ("江", "孤舟")), poem
        assert keywords_kept, poem  # with this request nothing forces the keywords out


@pytest.mark.parametrize(
    "options, fragment",
    [
        (["--title", "秋夜寄友人江上月明时节有感"], "has 13 characters, at most 12"),
        (["--first-line", "床前明月"], "the first line of a 五绝 has 5"),
        (["--first-line", "床前明月光", "--start", "月"], "--first-line gives the first character already"),
        (["--first-line", "床前明月𠀀"], "not in the model's vocabulary"),
        (["--first-line", "床前，明月"], "holds '，', not a Chinese character"),
        (["--keywords", "江月孤舟人"], "a keyword fits in 4"),
        (["--keywords", "江,,月"], "empty keyword"),
    ],
)
def test_bad_topic_options_are_one_line_errors(options, fragment):
    from conftest import assert_clean_error, run_script

    assert_clean_error(run_script("infer.py", "--model", "shipped", *options), fragment)


def test_a_title_for_a_model_without_titles_is_a_one_line_error(all_forms_onnx):
    from conftest import assert_clean_error, run_script

    result = run_script("infer.py", "--model", all_forms_onnx[0], "--title", "秋夜")
    assert_clean_error(result, "this model was not trained with titles")
