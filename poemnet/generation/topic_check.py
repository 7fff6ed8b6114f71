"""Do written poems keep to their titles? Held-out titles, and poems written for them against
untitled poems with the same seeds, measured by common/topicality.py. No torch."""

from poemnet.common import corpus
from poemnet.generation import request


def held_out_titles(model, forms, poems, val_fraction, limit):
    """{form name: up to `limit` titles of held-out poems, in the model's vocabulary}."""
    held_out = corpus.split(poems, val_fraction)[1]
    found = {}
    for form in forms:
        titles = [p.title for p in held_out if p.form == form.name and p.title]
        found[form.name] = [t for t in titles if all(ch in model.vocab.index for ch in t)][:limit]
    return found


def topicality_rows(model, forms, poems, val_fraction, limit, tables_texts):
    """For a model trained with titles: poems written for held-out titles against untitled poems
    with the same seeds, by common/topicality.py (mean and its standard error)."""
    from poemnet.common.topicality import CharTfIdf, spread, topicality

    tfidf, rows = CharTfIdf(tables_texts), []
    held_out = corpus.split(poems, val_fraction)[1]
    for form in forms:
        human = [p for p in held_out if p.form == form.name and p.title]
        human = [p for p in human if all(ch in model.vocab.index for ch in p.title)][:limit]
        if len(human) < 2:
            continue
        row = {"form": form.name, "poems": len(human)}
        for name, titled in (("titled", True), ("untitled", False)):
            asks = [
                request.Request(form=form.name, seed=i, title=p.title if titled else None) for i, p in enumerate(human)
            ]
            texts = [request.write(model, request.prepare(model, ask))[0]["text"] for ask in asks]
            mean, scores = topicality(tfidf, texts, [p.text for p in human])
            row[name], row[f"{name}_se"] = mean, spread(scores)
        rows.append(row)
    return rows
