"""The 对仗 measure: pairs learned from human middle couplets, scored position by position."""

import pytest

from poemnet.common.couplets import MIDDLE, OUTER, PairTable, aligned_pairs, mean_score
from poemnet.common.vocab import Vocab
from poemnet.generation import model_file

# 杜甫《春望》-like shape: the middle couplets pair 感时/恨别, 花/鸟, 溅泪/惊心; 烽火/家书 ...
SHAPE = "{0}，{1}。{2}，{3}。{4}，{5}。{6}，{7}。"
LINES = ["国破山河在", "城春草木深", "感时花溅泪", "恨别鸟惊心", "烽火连三月", "家书抵万金", "白头搔更短", "浑欲不胜簪"]


def poem(lines):
    return SHAPE.format(*lines)


def test_aligned_pairs_take_matching_positions_of_the_chosen_couplets_of_a_lushi_only():
    text = poem(LINES)
    assert aligned_pairs(text, MIDDLE)[:5] == list(zip("感时花溅泪", "恨别鸟惊心"))
    assert len(aligned_pairs(text, MIDDLE)) == len(aligned_pairs(text, OUTER)) == 10
    assert aligned_pairs("感时花溅泪，恨别鸟惊心。烽火连三月，家书抵万金。", MIDDLE) == []  # a 绝句 has none


def test_pairs_seen_often_in_middle_couplets_are_parallel_and_the_score_counts_positions():
    texts = [poem(LINES)] * 3 + [
        poem(["山" * 5, "水" * 5, "天地人和合", "风云雨雪霜", "日月星辰光", "春夏秋冬景", "一二三四五", "六七八九十"])
    ]
    table = PairTable.from_poems(texts)
    assert table.is_parallel("花", "鸟") and table.is_parallel("感", "恨")
    assert not table.is_parallel("鸟", "花")  # the order of the couplet's lines matters
    assert not table.is_parallel("天", "风")  # seen once: below MIN_COUNT
    assert table.score(poem(LINES)) == 1.0
    mixed = poem(LINES[:2] + ["感时花溅泪", "风云雨雪霜"] + LINES[4:])
    assert table.score(mixed) == pytest.approx(5 / 10)  # the second middle couplet still pairs
    assert table.score(poem(LINES), OUTER) == 0.0
    assert mean_score(table, [poem(LINES), mixed]) == pytest.approx(0.75)
    assert mean_score(table, ["月落乌啼霜满天，江枫渔火对愁眠。"]) is None


def test_the_pairs_travel_in_the_model_file_and_damage_is_reported():
    table = PairTable.from_poems([poem(LINES)] * 2)
    vocab = Vocab.build(["".join(LINES) + "，。"])
    props = model_file.metadata_props(
        vocab=vocab,
        forms=["五律"],
        script="simplified",
        num_layers=1,
        hidden_dim=1,
        embedding_dim=1,
        weights_sha256="0",
        parallel_pairs=table.strongest(),
    )
    pairs = model_file.read_metadata(props).parallel_pairs()
    ids, weights = pairs.partners[vocab.index["花"]]
    assert list(ids) == [vocab.index["鸟"]] and weights[0] > 0
    for damage in ('{"花": [["鸟"]]}', '{"花": [["鸟", "x"]]}', '["花"]', "{not json"):
        with pytest.raises(model_file.DamagedModel):
            model_file.read_metadata({**props, "parallel": damage}).parallel_pairs()
