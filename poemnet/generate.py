"""The generation loop over any stepwise model (onnxruntime or torch): numpy in, numpy out."""
import numpy as np

from poemnet.decoding import Sampling, TokenClasses, allowed_tokens, format_rule, line_start_rule, mask_logits, sample


def poem_rules(vocab, form, first_chars=None):
    """The rules for one request: the form's layout, plus forced first characters {line: char}."""
    classes = TokenClasses.from_vocab(vocab)
    rules = [format_rule(form, classes)]
    if first_chars:
        rules.append(line_start_rule(form, {line: vocab.index[ch] for line, ch in first_chars.items()}, len(vocab)))
    return rules


def generate(step_fn, zero_state, vocab, form, n, rules, sampling=Sampling(), seed=0):
    """`n` poems of `form` as strings, one batch.

    step_fn(tokens int64 [B], h, c) -> (logits [B, V], h, c); zero_state(B) -> (h, c).
    """
    # one generator per poem: poem i is the same whatever the batch size
    rngs = [np.random.default_rng([seed, i]) for i in range(n)]
    h, c = zero_state(n)
    for token in (vocab.bos_id, vocab.form_id(form.name)):
        logits, h, c = step_fn(np.full(n, token, np.int64), h, c)
    history = np.zeros((n, 0), np.int64)
    for position in range(form.length):
        allowed = allowed_tokens(rules, position, history, len(vocab))
        uniforms = np.array([rng.random() for rng in rngs])
        ids = sample(mask_logits(logits, allowed), sampling, uniforms).astype(np.int64)
        history = np.concatenate([history, ids[:, None]], axis=1)
        if position + 1 < form.length:  # the rules force <eos> after the last line: no need to run it
            logits, h, c = step_fn(ids, h, c)
    return [vocab.decode(row) for row in history]
