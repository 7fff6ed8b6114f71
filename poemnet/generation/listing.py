"""`poemnet list`: what --form, --template and --rhyme accept, from a model's own data. No torch.

poemnet list                  # forms, templates and the 30 平 rhyme groups of the default model
poemnet list rhymes --model runs/base/poemnet-int8.onnx
"""

import json

from poemnet.common import prosody
from poemnet.common.errors import ArgumentParser
from poemnet.common.forms import FORMS
from poemnet.generation.model_choice import SHIPPED, clone_root, default_model, model_file
from poemnet.generation.output import emit
from poemnet.generation.request import FORM_ALIASES

SECTIONS = ("forms", "templates", "rhymes")
EXAMPLES = 8  # characters shown per rhyme group: the model's most frequent ones


def main(argv=None, prog="poemnet list", root=None):
    p = ArgumentParser(prog=prog, description="List the forms, their 平仄 templates and the 平水韵 平 rhyme groups.")
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


def templates(model):
    source = model.prosody.templates if model.prosody is not None else {}
    return {f.name: source.get(f.name) or prosody.templates(f) for f in model.forms}


def rhymes(model):
    """The 平 groups, each with the model's most frequent characters that rhyme only in it."""
    if model.prosody is None:  # a format-1 file: the rhyme book's characters instead of the model's
        table, names = prosody.load_table(model.script)
        members = [
            [c for c, (tone, gids) in table.items() if tone == prosody.PING and gids == (g,)] for g in range(len(names))
        ]
    else:
        names, group = model.prosody.group_names, model.prosody.rhyme_group
        members = [[model.vocab.tokens[i] for i in (group == g).nonzero()[0]] for g in range(len(names))]
    return [{"name": name, "characters": "".join(chars[:EXAMPLES])} for name, chars in zip(names, members)]


SECTION_DATA = {"forms": forms, "templates": templates, "rhymes": rhymes}


def text(listing):
    out = [f"model: {listing['model']}"]
    if "forms" in listing:
        out += ["", "forms (--form; any of the names):"]
        for f in listing["forms"]:
            missing = "" if f["in_model"] else "   (not in this model)"
            out.append(f"  {f['name']}  {f['lines']} lines of {f['characters']}   {' '.join(f['aliases'])}{missing}")
    if "templates" in listing:
        out += ["", "平仄 templates (--tones --template NAME; 中 = either tone):"]
        for form, items in listing["templates"].items():
            out += [f"  {form} {t['name']}  {' '.join(t['lines'])}" for t in items]
    if "rhymes" in listing:
        out += ["", "平水韵 平 rhyme groups (--rhyme NAME: 东, 一东 or 上平声一东), with characters of each:"]
        out += [f"  {g['name']}  {' '.join(g['characters'])}" for g in listing["rhymes"]]
    return "\n".join(out)
