"""Golden cases for a title, keywords and a given first line (topic.py and its twin web/src/topic.js),
added to golden.json by golden_cases.write_golden:

- on the all-forms model (no <title> token), in every form: a first line, keywords, both, each alone
  and with rhyme, tones and no-repeat (greedy), and sampled poems with keywords;
- on a small random-weights model whose vocabulary has <title> (titles_onnx, built as the all-forms
  model is): greedy poems with a title, alone and with a first line and keywords;
- refusals: a title for a model without titles, an empty or long title, an empty, long or extra
  keyword, a first line of the wrong length, a first line with a start character or an acrostic.
"""

import dataclasses

from poemnet.common.errors import UserError
from poemnet.generation.request import Request, prepare

TOPIC_CHARS = "春风明月山水江天云花人来不一日中"  # common: the all-forms vocabulary (min_count=50) has them
TITLE = "春江月夜"


def topic_chars(vocab, n, skip=0):
    """n characters of TOPIC_CHARS that the vocabulary knows, from the skip-th on."""
    chars = [ch for ch in TOPIC_CHARS if ch in vocab.index][skip : skip + n]
    assert len(chars) == n, "the vocabulary lacks the topic characters"
    return "".join(chars)


def keywords(vocab):
    """A one-character keyword and a two-character one."""
    return (topic_chars(vocab, 1, skip=8), topic_chars(vocab, 2, skip=9))


def topic_requests(model):
    """(name, "plain", Request): first lines and keywords in every form of the all-forms model."""
    rules = {"rhyme": "", "tones": True, "no_repeat": True}
    words = keywords(model.vocab)
    for form in model.forms:
        first = topic_chars(model.vocab, form.line_lengths[0])
        cases = {
            "first line": {"first_line": first + "，"},
            "keywords": {"keywords": words},
            "first line+keywords": {"first_line": first, "keywords": words[1:]},
        }
        for name, fields in cases.items():
            yield f"{form.name}+{name}", "plain", Request(form=form.name, **fields, greedy=True)
            yield f"{form.name}+{name}+rules", "plain", Request(form=form.name, **fields, **rules, greedy=True)
        yield (
            f"{form.name}+keywords+sampled",
            "plain",
            Request(form=form.name, keywords=words, rhyme="", tones=True, n=2, seed=11, temperature=1.5),
        )


def titles_requests(model):
    """(name, "titles", Request): greedy poems with a title on the model that knows titles."""
    first = topic_chars(model.vocab, model.forms[0].line_lengths[0])
    for form in model.forms[:2]:
        yield f"{form.name}+title", "titles", Request(form=form.name, title=TITLE, greedy=True)
        yield f"{form.name}+no title", "titles", Request(form=form.name, greedy=True)
    yield (
        "titled+first line+keywords+rules",
        "titles",
        Request(
            form=model.forms[0].name,
            title=TITLE,
            first_line=first,
            keywords=keywords(model.vocab)[:1],
            rhyme="",
            tones=True,
            greedy=True,
        ),
    )


def topic_rejected(model):
    """Requests about titles, keywords and first lines that prepare refuses on the all-forms model."""
    five = model.forms[0]
    first = topic_chars(model.vocab, five.line_lengths[0])
    return {
        "a title for a model without titles": Request(form=five.name, title=TITLE),
        "keyword too long": Request(form=five.name, keywords=(topic_chars(model.vocab, 5),)),
        "an empty keyword": Request(form=five.name, keywords=(topic_chars(model.vocab, 1), " ")),
        "more keywords than lines": Request(form=five.name, keywords=tuple(topic_chars(model.vocab, 5))),
        "first line of the wrong length": Request(form=five.name, first_line=first[:-1]),
        "first line with start": Request(form=five.name, first_line=first, start="月"),
        "first line with acrostic": Request(form=five.name, first_line=first, acrostic=topic_chars(model.vocab, 4)),
        "first line not characters": Request(form=five.name, first_line="abcde"),
    }


def titles_rejected(model):
    return {
        "an empty title": Request(title="  "),
        "a title too long": Request(title=TITLE * 4),
    }


def rejected_rows(model, variant, requests):
    """golden.json's rejected rows for the named model variant."""
    rows = []
    for name, request in requests.items():
        try:
            prepare(model, request)
        except UserError as e:
            rows.append({"name": name, "model": variant, "request": dataclasses.asdict(request), "error": str(e)})
        else:
            raise AssertionError(f"Python's prepare accepted the request meant to fail: {name}")
    return rows


def titles_onnx(path):
    """A random-weights model whose vocabulary has <title>, built as conftest's all-forms model is."""
    import torch

    from poemnet.common import corpus
    from poemnet.common.forms import FORMS
    from poemnet.common.vocab import Vocab
    from poemnet.training import onnx_export
    from poemnet.training.model import PoemLSTM

    torch.manual_seed(5)
    texts = [p.text for p in corpus.load()]
    vocab = Vocab.build(texts, min_count=50, titles=True)
    model = PoemLSTM(len(vocab), 16, 32).eval()
    props = onnx_export.metadata(model, vocab, list(FORMS), "simplified", "0" * 64, corpus_texts=texts)
    onnx_export.export(model, props, path)
    return path
