"""Write poems from Python, with the shipped model or your own (onnxruntime and numpy; no torch).

    import poemnet
    poems = poemnet.write(form="七律", start="月", rhyme=True, tones=True, seed=1, n=2)
    print(poems[0])                  # one line per row
    model = poemnet.PoemNet()        # loads once: the shipped model, or PoemNet("runs/base/poemnet-int8.onnx")
    model.write(form="五绝", acrostic="春夏秋冬", rhyme="东")
    model.rewrite(poems[1])          # the same poem again

Poem i of a batch is drawn from the random stream "{seed}/{i}", and the int8 model's numbers
depend on the batch's other rows, so (seed, index, batch size) identifies a poem: `rewrite`
writes its batch again and returns it. The command's `--seed S --n N --poem K` does the same.
"""

from dataclasses import asdict, dataclass, field, replace

from poemnet.common.errors import UserError
from poemnet.generation.request import Request


@dataclass(frozen=True)
class Poem:
    text: str  # the whole poem, punctuation kept: "XXXXX，XXXXX。XXXXX，XXXXX。"
    lines: tuple
    form: str  # 五绝, 七绝, 五律 or 七律
    template: str  # with tones: the 平仄 template it follows (None without tones, or when relaxed away)
    rhyme_group: str  # with rhyme: its 平水韵 group, e.g. 下平声七阳 (None without rhyme)
    relaxations: tuple  # where a soft rule had to give way: ({"position", "relaxed": [rule names]}, ...)
    seed: int
    index: int  # its place in its batch: write(..., seed=seed, n=batch_size)[index] writes it again
    batch_size: int
    script: str  # simplified or traditional
    model: str  # the model file that wrote it
    request: Request = field(repr=False, compare=False)  # the options it was written with

    def __str__(self):
        return "\n".join(self.lines)

    def to_dict(self):
        return {k: v for k, v in asdict(self).items() if k != "request"} | {"lines": list(self.lines)}


def _rhyme_option(rhyme):
    """The API's rhyme (False, True for any group, or a group's name) as the Request's."""
    if rhyme is None or rhyme is False:
        return None
    if rhyme is True:
        return ""
    if isinstance(rhyme, str):
        return rhyme
    raise UserError(f"rhyme={rhyme!r} must be True, False or a 平 group's name such as 东")


class PoemNet:
    """A model loaded once for many calls; model=None is the shipped release model."""

    def __init__(self, model=None, threads=None):
        from poemnet.generation.model_choice import SHIPPED_MODEL, model_file
        from poemnet.generation.runtime import PoemModel

        self.path = SHIPPED_MODEL if model is None else model_file(model, "model")
        self.model = PoemModel(self.path, threads)

    @property
    def forms(self):
        return [f.name for f in self.model.forms]

    @property
    def script(self):
        return self.model.script

    def write(
        self,
        form=None,
        start=None,
        acrostic=None,
        rhyme=False,
        tones=False,
        template=None,
        no_repeat=False,
        novel=False,
        parallel=False,
        title=None,
        keywords=(),
        first_line=None,
        n=1,
        temperature=0.8,
        top_k=None,
        top_p=0.9,
        greedy=False,
        seed=None,
        script=None,
    ):
        """`n` poems as one batch (see the command's options: `poemnet write --help`); script:
        simplified or traditional (default: the model's)."""
        options = dict(locals())  # the parameters are the Request's fields, less these two
        del options["self"], options["script"]
        options["keywords"] = tuple(keywords)
        return self.run(Request(**options | {"rhyme": _rhyme_option(rhyme)}), script)

    def rewrite(self, poem):
        """The same poem again: its batch written with its seed, and its place in it."""
        again = self.run(replace(poem.request, seed=poem.seed, n=poem.batch_size), poem.script)
        return again[poem.index]

    def run(self, request, script=None):
        """The poems of a Request (the command's path)."""
        from poemnet.generation.request import prepare, write
        from poemnet.generation.script_output import SCRIPTS, to_script

        target = script or self.model.script
        if target not in SCRIPTS:
            raise UserError(f"script {target!r} is not one: choose simplified or traditional")
        prepared = prepare(self.model, request)
        typed = _typed_characters(request, prepared.form)
        poems = []
        for index, p in enumerate(write(self.model, prepared)):
            text = to_script(
                p["text"], prepared.form, self.model.script, target, typed, p.get("template"), p.get("rhyme_group")
            )
            poems.append(
                Poem(
                    text=text,
                    lines=tuple(prepared.form.lines(text)),
                    form=prepared.form.name,
                    template=p.get("template"),
                    rhyme_group=p.get("rhyme_group"),
                    relaxations=tuple(p.get("relaxed", ())),
                    seed=prepared.seed,
                    index=index,
                    batch_size=prepared.n,
                    script=target,
                    model=str(self.path),
                    request=request,
                )
            )
        return poems


def _typed_characters(request, form):
    """{position: character} the user typed (a start or an acrostic), to keep in the printed poem."""
    if request.acrostic:
        return {form.line_position(i): ch for i, ch in enumerate(request.acrostic)}
    return {0: request.start} if request.start else {}


_default = None


def write(**options):
    """Poems from the shipped model, loaded on the first call: write(form="七律", start="月", rhyme=True,
    tones=True, seed=1, n=2). The options are PoemNet.write's."""
    global _default
    if _default is None:
        _default = PoemNet()
    return _default.write(**options)
