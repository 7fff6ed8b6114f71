"""The topicality measure tells a poem on its title from one on another."""

import pytest

from poemnet.common.topicality import CharTfIdf, cosine, spread, topicality

HUMAN = [
    "梅花开雪里，香远冷枝头。",
    "孤舟江上月，渔火夜深明。",
    "秋风吹落叶，雁去楚天长。",
    "春草池塘绿，燕归花正红。",
] * 3


def test_a_poem_sharing_its_title_poems_rare_characters_scores_above_chance_and_a_shuffled_one_does_not():
    tfidf = CharTfIdf(HUMAN)
    on_topic = [
        "雪中梅已放，枝上暗香浮。",
        "江月照孤舟，渔歌到夜深。",
        "落叶秋风起，长天雁影斜。",
        "池塘春草绿，花红燕子飞。",
    ] * 3
    keeps, scores = topicality(tfidf, on_topic, HUMAN)
    shuffled, _ = topicality(tfidf, on_topic[1:] + on_topic[:1], HUMAN)
    assert keeps > 0.6 and shuffled < 0.4
    assert spread(scores) is not None and spread([0.5]) is None


def test_common_characters_weigh_less_than_rare_ones():
    tfidf = CharTfIdf(HUMAN + ["不见人不归，人无不在。"] * 5)
    assert tfidf.idf["人"] < tfidf.idf["梅"]
    assert cosine(tfidf.vector("梅"), tfidf.vector("梅花")) > cosine(tfidf.vector("人"), tfidf.vector("人花"))
    assert cosine(tfidf.vector("梅花"), tfidf.vector("梅花")) == pytest.approx(1.0)
