"""Do written poems keep to their titles? Held-out titles, and poems written for them against
untitled poems with the same seeds, measured by common/topicality.py. No torch."""

from poemnet.generation import request


def titled_poems(model, form, held_out, limit):
    """Up to `limit` held-out poems of `form` with a title the model's vocabulary can read."""
    titled = [p for p in held_out if p.form == form.name and p.title]
    return [p for p in titled if all(ch in model.vocab.index for ch in p.title)][:limit]


def held_out_titles(model, forms, held_out, limit):
    """{form name: the titles of titled_poems}."""
    return {form.name: [p.title for p in titled_poems(model, form, held_out, limit)] for form in forms}


def topicality_rows(model, forms, held_out, limit, tables_texts):
    """For a model trained with titles: poems written for held-out titles against untitled poems
    with the same seeds, by common/topicality.py (mean and its standard error)."""
    from poemnet.common.topicality import CharTfIdf, spread, topicality

    tfidf, rows = CharTfIdf(tables_texts), []
    for form in forms:
        human = titled_poems(model, form, held_out, limit)
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
