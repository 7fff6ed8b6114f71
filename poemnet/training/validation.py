"""Per-form validation perplexity of a training artifact (torch): each 诗 form, every 词牌 together
and each one, and for a model trained with titles the same poems given their titles."""

import math

from poemnet.common.forms import FORMS
from poemnet.training import artifact
from poemnet.training.batches import load_data, loss_sums, titled_validation

ALL_CI = "词"  # the validation row of every 词牌 together


def validation_perplexity(artifact_dir):
    """{form: validation loss, perplexity and target count} of a training artifact; for a model
    trained with titles also the perplexity of the same poems given their title."""

    trained = artifact.read(artifact_dir)
    data = load_data(trained.cfg.data)
    title_end = data.vocab.title_end_id
    sums = loss_sums(trained.model, data.val, "cpu", title_end_id=title_end)
    titled = titled_validation(data)
    titled_sums = loss_sums(trained.model, titled, "cpu", title_end_id=title_end) if titled else {}
    ci = [f for f in data.forms if f not in FORMS and f in sums]
    if ci:  # every 词牌 together, beside each one
        for table in (t for t in (sums, titled_sums) if t):
            table[ALL_CI] = tuple(sum(table[f][i] for f in ci) for i in (0, 1))
    result = {}
    for form in [f for f in FORMS if f in sums] + ([ALL_CI] if ci else []) + ci:
        total, count = sums[form]
        row = {"val_loss": total / count, "val_ppl": math.exp(total / count), "targets": count}
        if form in titled_sums:
            row["val_ppl_titled"] = math.exp(titled_sums[form][0] / titled_sums[form][1])
        result[form] = row
    return result
