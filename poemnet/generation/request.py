"""What a user asks for, turned into what the generation loop needs: the one request builder.

`Request` holds the user's options as the command line and the API take them; `prepare` checks
them against a model and returns the form, the decoder (rules), the sampling and the seed;
`write` runs the loop. The page's twin is web/src/request.js.
"""

import math
import os
from dataclasses import dataclass

from poemnet.common.errors import UserError
from poemnet.common.writing_system import to_model_char
from poemnet.generation import topic
from poemnet.generation.generate import Constraints, generate_detailed, model_rules
from poemnet.generation.sampling import Sampling

MAX_POEMS = 1024
MAX_SEED = 2**63 - 1


@dataclass(frozen=True)
class Request:
    form: str = None  # None: the model's first form
    start: str = None  # the poem's first character
    acrostic: str = None  # one character per line
    rhyme: str = None  # None: off; "": rhyme in the first group drawn; else a 平 group's name (东, 一东 ...)
    tones: bool = False
    template: str = None  # with tones: a template's name
    no_repeat: bool = False
    novel: bool = False
    parallel: bool = False  # 对仗: in a 律诗's middle couplets, prefer characters that pair with the line before
    title: str = None  # the poem's title (a model trained with titles)
    keywords: tuple = ()  # words that must appear, each inside one line
    first_line: str = None  # the poem's first line, given
    n: int = 1
    temperature: float = 0.8
    top_k: int = None
    top_p: float = 0.9
    greedy: bool = False
    seed: int = None  # None: a random one, reported with the poems


@dataclass(frozen=True)
class Prepared:
    form: object  # Form
    decoder: object  # generate.Decoder
    sampling: Sampling
    seed: int
    n: int


def check_sampling(r):
    if r.seed is not None and not 0 <= r.seed <= MAX_SEED:
        raise UserError(f"--seed {r.seed} must be between 0 and 2**63 - 1")
    if not 1 <= r.n <= MAX_POEMS:
        raise UserError(f"--n {r.n} must be between 1 and {MAX_POEMS}")
    if not 0 < r.top_p <= 1:
        raise UserError(f"--top-p {r.top_p} must be in (0, 1]")
    if r.top_k is not None and r.top_k < 1:
        raise UserError(f"--top-k {r.top_k} must be >= 1 (leave it out to sample among all characters)")
    if r.greedy:  # the likeliest character every time: the temperature does not enter
        return Sampling(1.0, r.top_k or 0, r.top_p, greedy=True)
    if not (r.temperature > 0 and math.isfinite(r.temperature)):
        raise UserError(
            f"--temperature {r.temperature} must be > 0 and finite (or pass --greedy for the likeliest poem)"
        )
    return Sampling(r.temperature, r.top_k or 0, r.top_p, r.greedy)


# The forms by their full names, in either script, and in pinyin for a keyboard without Chinese input.
FORM_ALIASES = {
    "五绝": ("五絕", "五言绝句", "五言絕句", "wujue"),
    "七绝": ("七絕", "七言绝句", "七言絕句", "qijue"),
    "五律": ("五言律诗", "五言律詩", "wulv", "wulu"),
    "七律": ("七言律诗", "七言律詩", "qilv", "qilu"),
}
CANONICAL_FORM = {alias: name for name, aliases in FORM_ALIASES.items() for alias in (name, *aliases)}


def choose_form(model, name):
    """The model's form by any of its names: a 诗 form's (CANONICAL_FORM), a 词牌's in either script."""
    if name is None:
        return model.forms[0]
    from poemnet.common.form_data import find_form  # the 词牌 table loads only for a named form

    return find_form(name, model.forms, CANONICAL_FORM)


def first_chars(model, form, start, acrostic):
    """{line: character} forced by start or acrostic, converted to the model's script."""
    if start and acrostic:
        raise UserError("--start and --acrostic both choose the first character: pass one of them")
    if start is not None:
        if len(start) != 1:
            raise UserError(f"--start takes one character, got {len(start)}: use --acrostic for one per line")
        return {0: to_model_char(start, model.vocab, model.script, "--start character")}
    if acrostic is not None:
        if len(acrostic) != form.num_lines:
            raise UserError(
                f"--acrostic needs {form.num_lines} characters for a {form.name} "
                f"({form.num_lines} lines), got {len(acrostic)}"
            )
        return {
            i: to_model_char(ch, model.vocab, model.script, "--acrostic character") for i, ch in enumerate(acrostic)
        }
    return {}


def constraints(r, model, form, forced):
    """The request's decoding options as Constraints, checked against what the model file carries."""
    if r.template is not None and not r.tones:
        raise UserError("--template chooses a 平仄 template: pass --tones with it")
    if r.first_line is not None and 0 in forced:
        raise UserError("--first-line gives the first character already: leave out --start or --acrostic")
    group = None
    if r.rhyme and model.prosody is not None:  # without prosody data poem_rules refuses --rhyme
        from poemnet.common.prosody import group_id  # only for a named group: plain runs start faster

        group = group_id(r.rhyme, model.prosody.group_names)
        if group is None:
            raise UserError(f"--rhyme {r.rhyme} is not a 平水韵 平 group: use one such as 东, 一东 or 下平声七阳")
    return Constraints(
        first_chars=forced,
        rhyme=r.rhyme is not None,
        rhyme_group=group,
        tones=r.tones,
        template=r.template,
        no_repeat=r.no_repeat,
        novel=r.novel,
        parallel=r.parallel,
        title=topic.check_title(model.vocab, model.script, r.title),
        keywords=topic.check_keywords(model.vocab, model.script, form, r.keywords),
        first_line=topic.check_first_line(model.vocab, model.script, form, r.first_line),
    )


def prepare(model, r):
    """Check the request against the model: (form, decoder, sampling, seed, n) for the loop."""
    sampling = check_sampling(r)
    form = choose_form(model, r.form)
    wanted = constraints(r, model, form, first_chars(model, form, r.start, r.acrostic))
    decoder = model_rules(model, form, wanted)  # prosody and the filter are read on first use
    seed = r.seed if r.seed is not None else int.from_bytes(os.urandom(4), "big") >> 1  # secrets costs its import
    return Prepared(form, decoder, sampling, seed, r.n)


def write(model, prepared):
    """The poems of a prepared request, as dicts; never a malformed one."""
    p = prepared
    poems = generate_detailed(model.step, model.zero_state, model.vocab, p.form, p.n, p.decoder, p.sampling, p.seed)
    bad = [poem["text"] for poem in poems if not p.form.matches(poem["text"])]
    if bad:  # the layout rule makes this impossible; never hand out a malformed poem
        raise UserError(
            f"generation produced a malformed poem ({bad[0]!r}): the model file may be damaged; re-export it"
        )
    return poems
