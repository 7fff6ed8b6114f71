"""`poemnet list`: what --form, --template and --rhyme accept, from a model's own data. No torch.

poemnet list                  # forms, 词牌, templates, the 30 平 rhyme groups (and 部) of the default model
poemnet list cipai            # the supported 词牌 with their poem counts, and which the model knows
poemnet list rhymes --model runs/base/poemnet-int8.onnx
"""

import json

from poemnet.common import form_data, prosody
from poemnet.common.errors import ArgumentParser
from poemnet.common.forms import FORMS
from poemnet.generation.model_choice import SHIPPED, clone_root, default_model, model_file
from poemnet.generation.output import emit
from poemnet.generation.request import FORM_ALIASES

SECTIONS = ("forms", "cipai", "templates", "rhymes", "parts")
EXAMPLES = 8  # characters shown per rhyme group: the model's most frequent ones


def main(argv=None, prog="poemnet list", root=None):
    p = ArgumentParser(
        prog=prog,
        description="List the forms and 词牌, their 平仄 templates, the 平水韵 平 rhyme groups and the 词林正韵 部.",
    )
    p.add_argument("what", nargs="?", choices=["all", *SECTIONS], default="all", help="what to list (default: all)")
    p.add_argument("--model", help=f"a model file or `{SHIPPED}` (default: as `poemnet write` chooses)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    args = p.parse_args(argv)
    from poemnet.generation.runtime import PoemModel

    path = (
        model_file(args.model) if args.model is not None else default_model(clone_root() if root is None else root)[0]
    )
    model = PoemModel(path)
    listing = {"model": str(path)}
    for section in SECTIONS if args.what == "all" else [args.what]:
        listing[section] = SECTION_DATA[section](model)
    emit(json.dumps(listing, ensure_ascii=False, indent=1) if args.json else text(listing))
    return 0


def forms(model):
    known = {f.name for f in model.forms}
    return [
        {"name": name, "lines": f.num_lines, "characters": f.line_len, "aliases": list(FORM_ALIASES[name])}
        | {"in_model": name in known}
        for name, f in FORMS.items()
    ]


def cipai(model):
    """The supported 词牌 (form_data.SUPPORTED_LAYOUT_POEMS), most poems first, then any other the
    model knows: name, traditional name, poems in the corpus, lines, characters, in the model."""
    known = {f.name: f for f in model.forms if f.kind == "词"}
    table = form_data.load_cipai()
    rows = []
    for name in [*form_data.supported_cipai(), *(n for n in known if n not in form_data.supported_cipai())]:
        form = known.get(name) or form_data.supported_cipai()[name]
        rows.append(
            {
                "name": name,
                "traditional": form.traditional or name,
                "poems": table[name]["poems"] if name in table else None,
                "lines": form.num_lines,
                "characters": sum(form.line_lengths),
                "in_model": name in known,
            }
        )
    return rows


def templates(model):
    source = model.prosody.templates if model.prosody is not None else {}
    return {f.name: source.get(f.name) or form_data.form_templates(f) for f in model.forms}


def _members(model, ids, count):
    return [[model.vocab.tokens[i] for i in (ids == g).nonzero()[0]] for g in range(count)]


def rhymes(model):
    """The 平 groups, each with the model's most frequent characters that rhyme only in it."""
    if model.prosody is None:  # a format-1 file: the rhyme book's characters instead of the model's
        table, names = prosody.load_table(model.script)
        members = [
            [c for c, (tone, gids) in table.items() if tone == prosody.PING and gids == (g,)] for g in range(len(names))
        ]
    else:
        names = model.prosody.group_names[: model.prosody.num_groups]
        members = _members(model, model.prosody.rhyme_group, len(names))
    return [{"name": name, "characters": "".join(chars[:EXAMPLES])} for name, chars in zip(names, members)]


def parts(model):
    """The 词林正韵 部 a 词 rhymes in (a model that knows a 词牌), with its 平 and its 仄 characters."""
    p = model.prosody
    if p is None or p.part_ping is None:
        return []
    names = p.group_names[p.num_groups :]
    ping, ze = _members(model, p.part_ping, len(names)), _members(model, p.part_ze, len(names))
    return [
        {"name": name, "ping": "".join(a[:EXAMPLES]), "ze": "".join(b[:EXAMPLES])}
        for name, a, b in zip(names, ping, ze)
    ]


SECTION_DATA = {"forms": forms, "cipai": cipai, "templates": templates, "rhymes": rhymes, "parts": parts}


def text(listing):
    out = [f"model: {listing['model']}"]
    if "forms" in listing:
        out += ["", "forms (--form; any of the names):"]
        for f in listing["forms"]:
            missing = "" if f["in_model"] else "   (not in this model)"
            out.append(f"  {f['name']}  {f['lines']} lines of {f['characters']}   {' '.join(f['aliases'])}{missing}")
    if "cipai" in listing:
        out += ["", "词牌 (--form; simplified or traditional name), poems in the corpus, lines, characters:"]
        for f in listing["cipai"]:
            missing = "" if f["in_model"] else "   (not in this model)"
            other = f" {f['traditional']}" if f["traditional"] != f["name"] else ""
            out.append(
                f"  {f['name']}{other}  {f['poems']} poems, {f['lines']} lines, {f['characters']} characters{missing}"
            )
    if "templates" in listing:
        out += ["", "平仄 templates (--tones --template NAME; 中 = either tone):"]
        for form, items in listing["templates"].items():
            out += [f"  {form} {t['name']}  {' '.join(t['lines'])}" for t in items]
    if "rhymes" in listing:
        out += ["", "平水韵 平 rhyme groups (--rhyme NAME: 东, 一东 or 上平声一东), with characters of each:"]
        out += [f"  {g['name']}  {' '.join(g['characters'])}" for g in listing["rhymes"]]
    if listing.get("parts"):
        out += ["", "词林正韵 部 (a 词 rhymes in one per rhyme set; --rhyme 第七部), with 平 | 仄 characters of each:"]
        out += [f"  {g['name']}  {' '.join(g['ping'])} | {' '.join(g['ze'])}" for g in listing["parts"]]
    return "\n".join(out)
