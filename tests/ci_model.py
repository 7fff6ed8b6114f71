"""A random-weights model that knows 五绝 and five 词牌, for the 词 tests (test_ci_rules, test_ci_twin).

The decoding rules do not depend on training: random weights show every 词牌's layout, tones and
rhymes as well as trained ones. The vocabulary comes from the embedded 五绝 and the 词 of CI_FORMS.
"""

CI_FORMS = ("浣溪沙", "菩萨蛮", "西江月", "水调歌头", "满江红")  # 平, 换 (four sets), 通叶, long 平, 仄 with 、


def ci_texts(forms=CI_FORMS):
    from poemnet.common import corpus

    shi = [p.text for p in corpus.load()]
    ci = [p.text for p in corpus.load(corpus.resolve_ci("embedded")) if p.form in forms]
    return shi, ci


def make_ci_model(path, forms=CI_FORMS, min_count=50):
    """Export the model to `path`; returns the torch model and its vocabulary."""
    import torch

    from poemnet.common.vocab import Vocab
    from poemnet.training import onnx_export
    from poemnet.training.model import PoemLSTM

    torch.manual_seed(3)
    shi, ci = ci_texts(forms)
    vocab = Vocab.build(shi + ci, min_count=min_count, forms=("五绝", *forms))
    model = PoemLSTM(len(vocab), 16, 32).eval()
    props = onnx_export.metadata(model, vocab, ["五绝", *forms], "simplified", "0" * 64, corpus_texts=shi + ci)
    onnx_export.export(model, props, path)
    return model, vocab
