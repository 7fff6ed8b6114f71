"""Golden cases for the page's JavaScript twin, written by the Python generation code.

`write(model_path, out)` fills `out` with the model (model.onnx), its model.json as web/build.py
writes it (with the forms' other names and the script map it makes with OpenCC), a variant model.json whose prosody empties one rhyme group (a forced relaxation), and
golden.json:

- poems: a request (the fields of poemnet.generation.request.Request), the Sampling Python built
  from it, the poem Python wrote (text, template, rhyme group, relaxations), its token ids, and at
  every position the allowed-token mask (base64 of the little-endian packed bits) and the soft rules
  relaxed there, given the poem's own history. `greedy` poems are compared whole; sampled ones
  (Python's and the page's random streams differ) by their masks, relaxations and description;
- request_defaults: the fields of a Request and their defaults;
- rejected: requests Python's prepare refuses with a UserError;
- sampling: rows of masked logits (null = disallowed), a Sampling and a uniform, with Python's pick.

web/test/twin.test.mjs reads them from $POEMNET_GOLDEN; tests/test_js_twin.py runs both.
"""

import base64
import dataclasses
import importlib.util
import itertools
import json
import shutil
from pathlib import Path

import numpy as np

from poemnet.common.errors import UserError
from poemnet.generation import model_file
from poemnet.generation.model_file import VocabProsody
from poemnet.generation.request import Request, prepare, write
from poemnet.generation.rules import allowed_tokens
from poemnet.generation.runtime import PoemModel
from poemnet.generation.sampling import Sampling, sample

START = "月"  # 仄: with tones it rules out some templates
ACROSTIC = "春秋山风花天云江"  # 平 characters, one per line of the longest form
CLASHING_ACROSTIC = "春夏秋冬山水风月"  # 月 (仄) starts the 五律's line 8, where every template has 平
SWITCHES = ("rhyme", "tones", "no_repeat", "novel")
EMPTIED = 2  # 上平声三江: its characters stop being rhyme characters in the variant model.json
EMPTIED_NAME = "三江"
# Traditional input, which Python converts with OpenCC and the page with model.json's script_map.
TRADITIONAL = {"start": "風", "acrostic": "春秋山風", "rhyme": ("東", "上平聲一東", "七陽")}


def pack(mask):
    return base64.b64encode(np.packbits(np.asarray(mask, bool), bitorder="little").tobytes()).decode("ascii")


def poem_requests(model, aliases):
    """(name, variant, Request) for every form x {none, start, acrostic} x every subset of the four
    switches (greedy), then named rhyme groups and templates, forced relaxations and sampled poems,
    and each other name of a form that model.json gives (`aliases`)."""
    prosody = model.prosody
    smallest = min(
        (g for g in range(len(prosody.group_names)) if (prosody.rhyme_group == g).any()),
        key=lambda g: (prosody.rhyme_group == g).sum(),
    )
    for form in model.forms:
        firsts = {"none": {}, "start": {"start": START}, "acrostic": {"acrostic": ACROSTIC[: form.num_lines]}}
        for (first, chars), on in itertools.product(firsts.items(), itertools.product((False, True), repeat=4)):
            switches = dict(zip(SWITCHES, on))
            name = "+".join([form.name, first] + [s for s, o in switches.items() if o])
            yield name, "plain", Request(form=form.name, **chars, **switches_request(switches), greedy=True, seed=0)
        template = prosody.templates[form.name][-1]["name"]
        yield f"{form.name}+template", "plain", Request(form=form.name, tones=True, template=template, greedy=True)
        group = prosody.group_names[smallest]  # few characters: no_repeat gives way in the longer forms
        yield (
            f"{form.name}+group {group}",
            "plain",
            Request(form=form.name, rhyme=group, tones=True, no_repeat=True, greedy=True),
        )
        yield (
            f"{form.name}+sampled",
            "plain",
            Request(form=form.name, rhyme="", tones=True, no_repeat=True, novel=True, n=3, seed=7, temperature=1.5),
        )
        yield f"{form.name}+top_k", "plain", Request(form=form.name, start=START, n=2, seed=3, top_k=5, top_p=1.0)
    yield "五律+clashing acrostic", "plain", Request(form="五律", acrostic=CLASHING_ACROSTIC, tones=True, greedy=True)
    twice = "月" + CLASHING_ACROSTIC[1:]  # at line 8, 月 breaks two rules at once
    yield (
        "五律+月 twice",
        "plain",
        Request(form="五律", acrostic=twice, rhyme=group, tones=True, no_repeat=True, greedy=True),
    )
    yield "五绝+月月月月", "plain", Request(form="五绝", acrostic="月" * 4, tones=True, no_repeat=True, greedy=True)
    yield "五绝+emptied group", "emptied", Request(form="五绝", rhyme=EMPTIED_NAME, tones=True, greedy=True)
    yield "五绝+traditional start", "plain", Request(form="五绝", start=TRADITIONAL["start"], greedy=True)
    acrostic = TRADITIONAL["acrostic"]
    yield "五绝+traditional acrostic", "plain", Request(form="五绝", acrostic=acrostic, tones=True, greedy=True)
    for group in TRADITIONAL["rhyme"]:
        yield f"七绝+group {group}", "plain", Request(form="七绝", rhyme=group, tones=True, greedy=True)
    for name, others in aliases.items():
        for other in others[:1] + others[-1:]:
            yield f"{name} as {other}", "plain", Request(form=f" {other.upper()} ", greedy=True)


def switches_request(switches):
    return {"rhyme": "" if switches["rhyme"] else None, **{k: v for k, v in switches.items() if k != "rhyme"}}


def emptied(data):
    """The prosody data with group EMPTIED's characters also in group 0: no character rhymes in it."""
    data = json.loads(json.dumps(data))
    data["ping_groups"] = [g + [0] if g == [EMPTIED] else g for g in data["ping_groups"]]
    return data


def golden_poems(model, name, variant, request):
    """The poems of one request with, at every position, the mask and relaxations Python allows."""
    prepared = prepare(model, request)
    rows = []
    for i, poem in enumerate(write(model, prepared)):
        history = np.array(model.vocab.encode(poem["text"]), np.int64)
        assert len(history) == prepared.form.length, poem
        masks, relaxations = [], []
        for position in range(prepared.form.length):
            allowed, relaxed = allowed_tokens(
                prepared.decoder.rules, position, history[None, :position], len(model.vocab)
            )
            masks.append(pack(allowed.reshape(-1, len(model.vocab))[0]))
            relaxations.append(relaxed[0])
        rows.append(
            {
                "name": f"{name} #{i}" if prepared.n > 1 else name,
                "model": variant,
                "request": dataclasses.asdict(request),
                "sampling": dataclasses.asdict(prepared.sampling),
                "greedy": prepared.sampling.greedy,
                "poem": poem,
                "history": history.tolist(),
                "masks": masks,
                "relaxations": relaxations,
                "margins": greedy_margins(model, prepared, history) if prepared.sampling.greedy else None,
            }
        )
    return rows


def greedy_margins(model, prepared, history):
    """Per position, the gap between the likeliest and the next allowed logit (None where there was
    no choice): where it is a rounding's width, the page's onnxruntime-web may pick the other one."""
    h, c = model.zero_state(1)
    for token in (model.vocab.bos_id, model.vocab.form_id(prepared.form.name)):
        logits, h, c = model.step(np.array([token]), h, c)
    gaps = []
    for position, token in enumerate(history):
        allowed, _ = allowed_tokens(prepared.decoder.rules, position, history[None, :position], len(model.vocab))
        candidates = np.sort(logits[0][allowed.reshape(-1)])
        gaps.append(float(candidates[-1] - candidates[-2]) if len(candidates) > 1 else None)
        logits, h, c = model.step(np.array([token]), h, c)
    return gaps


def rejected_requests(model):
    """Requests that prepare must refuse, each for its own reason."""
    five = model.forms[0].name
    return {
        "start and acrostic": Request(start=START, acrostic="春秋山风"),
        "two start characters": Request(start="春秋"),
        "start not a character": Request(start="a"),
        "start not in the vocabulary": Request(start="𠀀"),
        "acrostic too short": Request(form=five, acrostic="春夏秋"),
        "unknown form": Request(form="宋词"),
        "unknown rhyme group": Request(rhyme="火星"),
        "template without tones": Request(template=model.prosody.templates[five][0]["name"]),
        "unknown template": Request(tones=True, template="无此格"),
        "n of 0": Request(n=0),
        "n too large": Request(n=100_000),
        "negative seed": Request(seed=-1),
        "temperature 0": Request(temperature=0.0),
        "top_p 0": Request(top_p=0.0),
        "top_p above 1": Request(top_p=1.5),
        "top_k 0": Request(top_k=0),
    }


def golden_rejected(model):
    rows = []
    for name, request in rejected_requests(model).items():
        try:
            prepare(model, request)
        except UserError as e:
            rows.append({"name": name, "request": dataclasses.asdict(request), "error": str(e)})
        else:
            raise AssertionError(f"Python's prepare accepted the request meant to fail: {name}")
    return rows


def golden_sampling(rows_per_setting=100, size=300):
    """Python's pick for rows of random masked logits, some with many ties, under several settings."""
    rng = np.random.default_rng(0)
    settings = [
        Sampling(0.8, 0, 0.9),
        Sampling(1.0, 3, 1.0),
        Sampling(2.0, 20, 1.0),
        Sampling(1.3, 5, 0.7),
        Sampling(0.5, 0, 1.0),
        Sampling(1.0, 0, 0.5),
        Sampling(greedy=True),
    ]
    out = []
    for setting in settings:
        logits = (rng.normal(size=(rows_per_setting, size)) * 2).astype(np.float32)
        logits[::2] = np.round(logits[::2] * 2) / 2  # ties: the lower id goes first
        logits[rng.random(logits.shape) < 0.3] = -np.inf
        uniforms = rng.random(rows_per_setting)
        picks = sample(logits, setting, uniforms)
        for row, uniform, pick in zip(logits, uniforms, picks):
            out.append(
                {
                    "logits": [None if np.isinf(x) else float(x) for x in row],
                    "sampling": dataclasses.asdict(setting),
                    "uniform": float(uniform),
                    "id": int(pick),
                }
            )
    return out


def page_metadata(web):
    """model.json as web/build.py writes it: its page_metadata over web_metadata's dict."""
    spec = importlib.util.spec_from_file_location("web_build", Path(__file__).parents[1] / "web" / "build.py")
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    return build.page_metadata(web)


def write_golden(model_path, out):
    """Fill `out` (see the module docstring); returns golden.json's contents."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(model_path, out / "model.onnx")
    model = PoemModel(model_path)
    web = page_metadata(model_file.web_metadata(model.props))
    web["file"] = "model.onnx"
    variant = {**web, "prosody": emptied(web["prosody"])}
    (out / "model.json").write_text(json.dumps(web, ensure_ascii=False), encoding="utf-8")
    (out / "model-emptied.json").write_text(json.dumps(variant, ensure_ascii=False), encoding="utf-8")
    models = {"plain": model, "emptied": PoemModel(model_path)}
    models["emptied"].prosody = VocabProsody.from_data(variant["prosody"])  # replaces the cached property
    poems = [
        row
        for name, kind, request in poem_requests(model, web.get("form_aliases", {}))
        for row in golden_poems(models[kind], name, kind, request)
    ]
    golden = {
        "models": {"plain": "model.json", "emptied": "model-emptied.json"},
        "request_defaults": dataclasses.asdict(Request()),
        "poems": poems,
        "rejected": golden_rejected(model),
        "sampling": golden_sampling(),
    }
    (out / "golden.json").write_text(json.dumps(golden, ensure_ascii=False), encoding="utf-8")
    return golden
