"""Derive each 词牌's pattern from its poems: layout, 片, tones per position and rhymes.

- Layout: the most common sequence of line lengths; the mark after each line is the most common
  among the poems with that sequence. Its share: those poems / all the 词牌's poems; the exact
  share also asks for every mark.
- Tones, from the poems with the dominant lengths: at each position the share of 平 among the
  characters whose 平水韵 class is known (P or Z; E, readings in both, and U, unknown, are left
  out): 平 at >= TONE_THRESHOLD, 仄 at <= 1 - TONE_THRESHOLD, else 中 (also with < MIN_KNOWN known).
- Rhymes: two line ends agree in a poem when their characters share a 词林正韵 部. agreement(i, j)
  is the share of poems where they do; chance(i, j) the same with line j taken from other poems
  (the poem k places on, k = 1..CHANCE_SHIFTS). i and j rhyme together when agreement >=
  MIN_AGREEMENT and agreement - chance >= MIN_LIFT; the rhyme lines are those that rhyme with
  some line, a rhyme set is a connected group of them (换韵 词牌 have several). A rhyme line's
  tone is the majority class of its end characters (平韵, 仄韵, or 通叶 where one set mixes them).
- 片: a 双调 词牌's 下片 ends as its 上片 does. For each split after a rhyme line closed by 。？！
  leaving 30-70% of the characters on each side, pair the lines of the two halves from their ends
  and count the pairs that match (same length and rhyme, tones equal where both are fixed); the
  split with the most, at least MIN_PIAN_MATCH and half the pairs, is kept (ties: the more even).
"""

from collections import Counter

from poemnet.common import prosody
from poemnet.common.form_data import STOPS, layout_of, load_cilin, rhyme_kind, split_lines

TONE_THRESHOLD = 0.75
MIN_KNOWN = 10
MIN_AGREEMENT = 0.5
MIN_LIFT = 0.3
CHANCE_SHIFTS = 10
MIN_PIAN_MATCH = 2
PUNCT_ORDER = "。，、？！；"  # ties between marks go to the earlier


def dominant_layout(texts):
    """(layout, texts with its lengths, share of those, exact share): see the module doc."""
    layouts = [layout_of(t) for t in texts]
    lengths = Counter(tuple(n for n, _ in layout) for layout in layouts)
    best = min(lengths, key=lambda k: (-lengths[k], k))  # ties: the shorter sequence, for determinism
    matching = [(t, layout) for t, layout in zip(texts, layouts) if tuple(n for n, _ in layout) == best]
    marks = []
    for i in range(len(best)):
        counts = Counter(layout[i][1] for _, layout in matching)
        marks.append(min(counts, key=lambda m: (-counts[m], PUNCT_ORDER.index(m))))
    layout = [[n, m] for n, m in zip(best, marks)]
    exact = sum(lay == layout for _, lay in matching)
    return layout, [t for t, _ in matching], len(matching) / len(texts), exact / len(texts)


def position_tones(texts):
    """(one 平/仄/中 string per line, [[known-class count per position] per line], [[平 share] per line])."""
    lines = [[line for line, _ in split_lines(t)] for t in texts]
    tones, known, shares = [], [], []
    for i, first in enumerate(lines[0]):
        counts = [Counter(prosody.char_info(poem[i][pos])[0] for poem in lines) for pos in range(len(first))]
        known.append([c["P"] + c["Z"] for c in counts])
        shares.append([c["P"] / n if (n := c["P"] + c["Z"]) else 0.5 for c in counts])
        tones.append("".join(_tone(share, n) for share, n in zip(shares[-1], known[-1])))
    return tones, known, shares


def _tone(ping_share, known):
    if known >= MIN_KNOWN and ping_share >= TONE_THRESHOLD:
        return "平"
    if known >= MIN_KNOWN and ping_share <= 1 - TONE_THRESHOLD:
        return "仄"
    return "中"


def line_end_parts(texts):
    """[[set of 部 ids of each line's last character] per poem]."""
    parts = load_cilin()[0]
    ends = []
    for t in texts:
        ends.append([set().union(*parts.get(line[-1], ((), ()))) for line, _ in split_lines(t)])
    return ends


def _agreement(ends, i, j, shift=0):
    """Share of poems whose line i end shares a 部 with line j's end in the poem `shift` on."""
    hits = total = 0
    for p, poem in enumerate(ends):
        other = ends[(p + shift) % len(ends)]
        if poem[i] and other[j]:
            total += 1
            hits += bool(poem[i] & other[j])
    return hits / total if total else 0.0


def rhyme_structure(ends):
    """(rhyme line indices, their rhyme set ids, {(i, j): (agreement, chance)} of the edges)."""
    n_lines = len(ends[0])
    shifts = range(1, min(CHANCE_SHIFTS, len(ends) - 1) + 1)
    edges = {}
    for i in range(n_lines):
        for j in range(i + 1, n_lines):
            agreement = _agreement(ends, i, j)
            if agreement < MIN_AGREEMENT:
                continue
            chance = sum(_agreement(ends, i, j, k) for k in shifts) / max(len(shifts), 1)
            if agreement - chance >= MIN_LIFT:
                edges[(i, j)] = (round(agreement, 3), round(chance, 3))
    set_of = {}
    for i, j in sorted(edges):  # connected components, numbered in line order
        a, b = set_of.get(i), set_of.get(j)
        if a is None and b is None:
            set_of[i] = set_of[j] = i
        elif a is None or b is None:
            set_of[i] = set_of[j] = a if b is None else b
        elif a != b:
            set_of = {k: (a if v == b else v) for k, v in set_of.items()}
    rhymes = sorted(set_of)
    numbering = {root: n for n, root in enumerate(dict.fromkeys(set_of[i] for i in rhymes))}
    return rhymes, [numbering[set_of[i]] for i in rhymes], edges


def _same_line(a, b):
    """Two (length, rhymes, tones) lines match: same length and rhyme, tones equal where both are fixed."""
    return a[:2] == b[:2] and all(x == y or "中" in (x, y) for x, y in zip(a[2], b[2]))


def find_pian(layout, rhymes, tones):
    """Index of the 下片's first line, or None: see the module doc."""
    total = sum(n for n, _ in layout)
    lines = [(n, i in rhymes, tones[i]) for i, (n, _) in enumerate(layout)]
    best = None
    for k in range(2, len(layout) - 1):
        upper = sum(n for n, _ in layout[:k])
        if layout[k - 1][1] not in STOPS or (k - 1) not in rhymes or not 0.3 <= upper / total <= 0.7:
            continue
        pairs = min(k, len(layout) - k)
        match = sum(_same_line(lines[k - 1 - d], lines[-1 - d]) for d in range(pairs))
        score = (match, -abs(upper / total - 0.5))
        if match >= max(MIN_PIAN_MATCH, pairs / 2) and (best is None or score > best[0]):
            best = (score, k)
    return None if best is None else best[1]


def derive_form(name, texts, traditional=None):
    """(form dict, statistics) of one 词牌 from its poems' texts."""
    layout, matching, share, exact = dominant_layout(texts)
    tones, known, shares = position_tones(matching)
    ends = line_end_parts(matching)
    rhymes, sets, edges = rhyme_structure(ends)
    rhyme_tones = "".join("平" if shares[i][-1] >= 0.5 else "仄" for i in rhymes)  # the majority, at any count
    template = {"name": "corpus", "lines": tones, "rhymes": rhymes, "rhyme_sets": sets, "rhyme_tones": rhyme_tones}
    form = {
        "name": name,
        "traditional": traditional or name,
        "kind": "词",
        "poems": len(texts),
        "layout_poems": len(matching),
        "layout_share": round(share, 4),
        "exact_share": round(exact, 4),
        "layout": layout,
        "pian": find_pian(layout, rhymes, tones),
        "templates": [template],
        "rhyme_kind": rhyme_kind(rhyme_tones, sets) if rhymes else None,
    }
    positions = "".join(tones)
    stats = {
        "positions": len(positions),
        "fixed_positions": sum(t != "中" for t in positions),
        "positions_below_min_known": sum(n < MIN_KNOWN for line in known for n in line),
        "rhyme_pairs": len(edges),
        "weakest_rhyme_pair": min(edges.values(), default=None),  # (agreement, chance)
        "rhyme_line_agreement": _set_agreement(ends, rhymes, sets),
    }
    return form, stats


def _set_agreement(ends, rhymes, sets):
    """{line: [share of poems whose end holds its set's dominant 部 in that poem, the same by chance]}."""
    result = {}
    for i, s in zip(rhymes, sets):
        members = [j for j, t in zip(rhymes, sets) if t == s]
        dominant = []
        for poem in ends:
            counts = Counter(part for j in members for part in poem[j])
            dominant.append(max(counts, key=lambda p: (counts[p], -p)) if counts else None)
        own = sum(d is not None and d in poem[i] for d, poem in zip(dominant, ends)) / len(ends)
        other = sum(d is not None and d in ends[(p + 1) % len(ends)][i] for p, d in enumerate(dominant)) / len(ends)
        result[str(i)] = [round(own, 3), round(other, 3)]
    return result


def derive(poems, min_poems=20):
    """([form dict] for each 词牌 with >= min_poems poems, most poems first; report)."""
    import opencc

    s2t = opencc.OpenCC("s2t").convert
    by_form = {}
    for poem in poems:
        by_form.setdefault(poem.form, []).append(poem.text)
    names = sorted((n for n, t in by_form.items() if len(t) >= min_poems), key=lambda n: (-len(by_form[n]), n))
    forms, per_form = [], {}
    for name in names:
        form, per_form[name] = derive_form(name, by_form[name], s2t(name))
        forms.append(form)
    return forms, summarize(forms, per_form, min_poems)


def summarize(forms, per_form, min_poems):
    poems = sum(f["poems"] for f in forms)
    positions = sum(s["positions"] for s in per_form.values())
    return {
        "min_poems": min_poems,
        "thresholds": {"tone": TONE_THRESHOLD, "min_known": MIN_KNOWN, "agreement": MIN_AGREEMENT, "lift": MIN_LIFT},
        "forms": len(forms),
        "poems": poems,
        "poems_in_dominant_layout": sum(f["layout_poems"] for f in forms),
        "poems_in_exact_layout": round(sum(f["exact_share"] * f["poems"] for f in forms)),
        "forms_by_layout_share": _histogram(f["layout_share"] for f in forms),
        "positions": positions,
        "fixed_positions": sum(s["fixed_positions"] for s in per_form.values()),
        "positions_below_min_known": sum(s["positions_below_min_known"] for s in per_form.values()),
        "forms_with_fewer_layout_poems_than_min_known": sum(f["layout_poems"] < MIN_KNOWN for f in forms),
        "forms_with_pian": sum(f["pian"] is not None for f in forms),
        "forms_without_rhymes": sum(not f["templates"][0]["rhymes"] for f in forms),
        "rhyme_kinds": dict(Counter(f["rhyme_kind"] for f in forms).most_common()),
        "per_form": per_form,
    }


def _histogram(shares):
    bins = Counter(
        ">= 0.9" if s >= 0.9 else ">= 0.7" if s >= 0.7 else ">= 0.5" if s >= 0.5 else "< 0.5" for s in shares
    )
    return {k: bins[k] for k in (">= 0.9", ">= 0.7", ">= 0.5", "< 0.5")}
