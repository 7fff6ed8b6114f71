import json

import torch

from conftest import run_script
from poemnet.common import corpus
from poemnet.common.corpus import is_validation, split
from poemnet.common.vocab import BOS, EOS, UNK, Vocab
from poemnet.training.batches import epoch_batches, rank_slice


def test_vocab_orders_by_frequency_then_code_point_and_round_trips(tmp_path):
    vocab = Vocab.build(["月月山，水。", "山月，水。"], min_count=1)
    chars = vocab.tokens[vocab.num_reserved :]
    assert chars[0] == "月" and chars.index("山") < chars.index("水")  # 3 月, then 2 each ordered by code point
    text = "山月，水。"
    assert vocab.decode(vocab.encode(text)) == text
    path = tmp_path / "vocab.json"
    vocab.save(path)
    assert Vocab.load(path).tokens == vocab.tokens


def test_vocab_maps_rare_and_unknown_characters_to_unk():
    vocab = Vocab.build(["月月山"], min_count=2)
    assert "山" not in vocab and vocab.encode("山花") == [vocab.unk_id, vocab.unk_id]
    ids = vocab.encode_poem("月", "五绝")
    assert ids[0] == vocab.index[BOS] and ids[1] == vocab.form_id("五绝") and ids[-1] == vocab.index[EOS]
    assert vocab.tokens[vocab.unk_id] == UNK


SPLIT_SCRIPT = (
    "import json; from poemnet.common import corpus; from poemnet.training import batches as data; p = corpus.load()[:2000]; "
    "print(json.dumps([x.text for x in data.split(p, 0.05)[1]], ensure_ascii=False))"
)


def test_split_is_the_same_in_another_process():
    result = run_script("-c", SPLIT_SCRIPT)
    assert result.returncode == 0, result.stderr
    here = [p.text for p in split(corpus.load()[:2000], 0.05)[1]]
    assert json.loads(result.stdout) == here and 50 < len(here) < 150


def test_adding_a_poem_moves_no_other_poem():
    poems = corpus.load()[:3000]
    before = {p.text: is_validation(p.text, 0.05) for p in poems}
    extra = corpus.Poem("新月照寒江，孤舟一老翁。", "五绝", "唐", "某", "新")
    train, val = split([extra] + poems, 0.05)
    after = {p.text: p in val for p in train + val}
    assert all(after[t] == v for t, v in before.items())


def test_batches_have_one_form_no_padding_and_ranks_partition_them():
    tokens = {"五绝": torch.zeros(100, 27, dtype=torch.long), "七绝": torch.zeros(50, 35, dtype=torch.long)}
    batches = epoch_batches(tokens, 16, seed=1, epoch=0)
    assert len(batches) == 100 // 16 + 50 // 16
    assert all(tokens[form][torch.as_tensor(rows)].shape[1] == tokens[form].shape[1] for form, rows in batches)
    form, rows = batches[0]
    pieces = [rank_slice(rows, r, 2) for r in range(2)]
    assert sorted(list(pieces[0]) + list(pieces[1])) == sorted(rows) and len(pieces[0]) == 8
    assert [list(r) for _, r in batches] != [list(r) for _, r in epoch_batches(tokens, 16, seed=1, epoch=1)]
