"""Faults a scholar would mark: 重韵 (a rhyme character twice) and line ends that could be taken
for rhymes (a character with a 平 reading where the line must not rhyme)."""

import pytest

from poemnet.common.forms import FORMS
from poemnet.common.prosody import char_info
from poemnet.generation.model_choice import SHIPPED_MODEL
from poemnet.generation.request import Request, prepare, write
from poemnet.generation.runtime import PoemModel


def line_ends(poem):
    return [line[-2] for line in poem["lines"]]


@pytest.fixture(scope="module")
def shipped():
    return PoemModel(SHIPPED_MODEL)


@pytest.mark.parametrize("form", list(FORMS))
@pytest.mark.parametrize("tones", [False, True])
def test_with_rhyme_no_line_end_repeats_and_no_unrhymed_end_has_a_ping_reading(shipped, form, tones):
    poems = write(shipped, prepare(shipped, Request(form=form, rhyme="", tones=tones, n=60, seed=4)))
    for poem in poems:
        poem["lines"] = FORMS[form].lines(poem["text"])
        ends = line_ends(poem)
        assert len(set(ends)) == len(ends), poem["text"]  # 重韵 and any repeated line end
        rhyming = {i for i in range(len(ends)) if i % 2 == 1}
        if poem.get("template", "").endswith("首句入韵") or (not tones and char_info(ends[0])[0] == "P"):
            rhyming.add(0)
        for i, ch in enumerate(ends):
            if i not in rhyming:
                assert char_info(ch)[0] == "Z", (poem["text"], i, ch)  # 仄 only: no 平 reading
        assert not poem["relaxed"], poem


def test_a_named_group_still_rhymes_without_repeating_its_characters(shipped):
    poems = write(shipped, prepare(shipped, Request(form="七律", rhyme="东", tones=True, n=40, seed=3)))
    for poem in poems:
        ends = [line[-2] for line in FORMS["七律"].lines(poem["text"])]
        assert len(set(ends)) == 8 and poem["rhyme_group"] == "上平声一东"
