"""How well 词 keep their 词牌: layout, tones, rhyme, repeats and copies, for written and human 词.

No torch. Per poem, against the 词牌's derived template (form_data / the model's prosody data):

- layout: the text has the 词牌's dominant layout exactly (line lengths and every mark);
- tones: the share of the template's fixed (平/仄) positions whose character's 平水韵 class fits
  (a character with readings in both fits either; one the rhyme book lacks fits none);
- rhyme: every rhyme set shares one 词林正韵 部, each line end read in its line's rhyme tone (a
  character with several readings counts by any of them), and no line end repeats an earlier one;
- repeats: characters used more than once; copies: lines found verbatim in the training split.

`ci_rows` measures a model's 词 (plain and with the rules) beside the human 词 of the validation
split, per 词牌 and in total; python -m poemnet.evaluate prints them with the 诗 rows.
"""

import time

from poemnet.common import corpus as corpus_file
from poemnet.common import prosody
from poemnet.common.form_data import form_templates, load_cilin, split_lines

PRESETS = {
    "plain": {},
    "rhyme": {"rhyme": True},
    "tones": {"tones": True},
    "all": {"rhyme": True, "tones": True, "no_repeat": True, "novel": True},
}
HUMAN = "human (validation)"


def fits(mark, tone):
    """Whether a character of tone class `tone` (P, Z, E, U) may stand where a template says 平/仄/中."""
    if mark == "中" or tone == prosody.EITHER:
        return True
    return tone != prosody.UNKNOWN and (mark == "平") == (tone == prosody.PING)


def tone_share(text, form, template, script="simplified"):
    """(fitting, fixed): the template's 平/仄 positions, and how many of them the poem's characters fit."""
    marks = "".join(template["lines"])
    chars = _chars(text, form)
    fixed = [(m, ch) for m, ch in zip(marks, chars) if m != "中"]
    return sum(fits(m, prosody.char_info(ch, script)[0]) for m, ch in fixed), len(fixed)


def line_ends(text, form):
    return [line[-2] for line in form.lines(text)]


def rhyme_sets_agree(text, form, template, script="simplified"):
    """Each rhyme set's line ends share a 词林正韵 部 in their rhyme tones."""
    parts, _ = load_cilin(script)
    ends, shared = line_ends(text, form), {}
    for line, rhyme_set, tone in zip(template["rhymes"], template["rhyme_sets"], template["rhyme_tones"]):
        found = parts.get(ends[line], (frozenset(), frozenset()))[0 if tone == "平" else 1]
        shared[rhyme_set] = found if rhyme_set not in shared else shared[rhyme_set] & found
    return all(shared.values())


def repeated_end(text, form):
    """Whether some line ends in the character an earlier line ended in (重韵)."""
    ends = line_ends(text, form)
    return len(set(ends)) < len(ends)


def measures(texts, form, template, train_lines, script="simplified"):
    """The measures of a list of 词 of one 词牌 (see the module docstring); the poems outside the
    layout count against `layout` and are left out of the others, which need the layout's positions."""
    kept = [t for t in texts if form.matches(t)]
    n = max(1, len(kept))
    tones = [tone_share(t, form, template, script) for t in kept]
    lines = [line[:-1] for t in kept for line in form.lines(t)]
    return {
        "poems": len(texts),
        "layout": len(kept) / max(1, len(texts)),
        "tones": sum(a for a, _ in tones) / max(1, sum(b for _, b in tones)),
        "tones_exact": sum(a == b for a, b in tones) / n,
        "rhyme_rate": sum(rhyme_sets_agree(t, form, template, script) for t in kept) / n,
        "repeated_end_rate": sum(repeated_end(t, form) for t in kept) / n,
        "repeats_per_poem": sum(len(c) - len(set(c)) for c in (_chars(t, form) for t in kept)) / n,
        "copy_rate": sum(line in train_lines for line in lines) / max(1, len(lines)),
    }


def _chars(text, form):
    return "".join(line[:-1] for line in form.lines(text))


def total_row(rows, preset):
    """One row over every 词牌 of a preset: each measure weighted by its row's poems."""
    weight = sum(r["poems"] for r in rows) or 1
    keys = [k for k in rows[0] if isinstance(rows[0][k], float) and k != "poems_per_s"]
    total = {k: sum(r[k] * r["poems"] for r in rows) / weight for k in keys}
    return {"form": "词 (all)", "preset": preset, "poems": sum(r["poems"] for r in rows), **total}


def training_lines(poems):
    return {line for p in poems for line, _ in split_lines(p.text) or ()}


def template_of(model, form):
    if model is not None and model.prosody is not None and form.name in model.prosody.templates:
        return model.prosody.templates[form.name][0]
    return form_templates(form)[0]


def ci_rows(model, forms, n, seed, corpus, presets=("plain", "all"), sampling=None, val_fraction=0.05, limit=1000):
    """Rows of measures: for each 词牌 of `forms` (the model's Forms of kind 词) and preset, `n` 词
    the model writes; then the validation split's human 词 of each (`corpus`: the 词 corpus's
    Poems); and a total row per preset. Copies count against the corpus's training split."""
    from poemnet.generation.generate import Constraints, generate_detailed, model_rules
    from poemnet.generation.sampling import Sampling

    forms = [f for f in forms if f.kind == "词"]
    train, val = corpus_file.split(corpus, val_fraction)
    train_lines = training_lines(train)
    sampling = sampling or Sampling(0.8, 0, 0.9)
    rows = []
    for preset in presets:
        preset_rows = []
        for form in forms:
            decoder = model_rules(model, form, Constraints(**PRESETS[preset]))
            started = time.perf_counter()
            poems = generate_detailed(model.step, model.zero_state, model.vocab, form, n, decoder, sampling, seed)
            seconds = time.perf_counter() - started
            texts = [p["text"] for p in poems]
            row = {"form": form.name, "preset": preset}
            row |= measures(texts, form, template_of(model, form), train_lines, model.script)
            row |= {"relaxed_share": sum(bool(p.get("relaxed")) for p in poems) / n, "poems_per_s": n / seconds}
            preset_rows.append(row)
        rows += preset_rows + ([total_row(preset_rows, preset)] if preset_rows else [])
    rows += human_rows(forms, val, train_lines, model.script if model else "simplified", limit, model)
    return rows


def human_rows(forms, val, train_lines, script, limit, model=None):
    """The human 词 of each 词牌 in the validation split, measured alike, and their total."""
    rows = []
    for form in forms:
        texts = [p.text for p in val if p.form == form.name][:limit]
        if texts:
            template = template_of(model, form)
            rows.append({"form": form.name, "preset": HUMAN, **measures(texts, form, template, train_lines, script)})
    return rows + ([total_row(rows, HUMAN)] if rows else [])


def script_requirements(text, form):
    """{position: fits(tone, groups)} for the characters of a 词 whose class its template fixes
    (script_output.to_script keeps them when it prints the other script): a 平/仄 position keeps
    its tone, a rhyme line's end its rhyme tone. The 部 are those of the simplified poem."""
    template = form_templates(form)[0]
    marks = {}
    for line, row in enumerate(template["lines"]):
        for col, mark in enumerate(row):
            if mark != "中":
                marks[form.line_position(line) + col] = mark
    for line, tone in zip(template["rhymes"], template["rhyme_tones"]):
        marks[form.line_end(line)] = tone
    return {position: (lambda tone, _, m=mark: fits(m, tone)) for position, mark in marks.items()}
