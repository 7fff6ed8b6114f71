"""Golden cases for the page's JavaScript twin, written by the Python generation code.

`write(model_path, out)` fills `out` with the model (model.onnx), its model.json as web/build.py
writes it (with the forms' other names and the script map it makes with OpenCC), a variant model.json whose prosody empties one rhyme group (a forced relaxation), and
golden.json:

- poems: a request (the fields of poemnet.generation.request.Request; 对仗 requests read a third
  model.json, whose `parallel` pairs come from the embedded 绝句 read twice over as 律诗), the
  Sampling Python built from it, the poem Python wrote (text, template, rhyme group, relaxations), its token ids, and at
  every position the allowed-token mask (base64 of the little-endian packed bits) and the soft rules
  relaxed there, given the poem's own history. `greedy` poems are compared whole; sampled ones
  (Python's and the page's random streams differ) by their masks, relaxations and description;
- request_defaults: the fields of a Request and their defaults;
- rejected: requests Python's prepare refuses with a UserError;
- sampling: rows of masked logits (null = disallowed), a Sampling and a uniform, with Python's pick.

web/test/twin.test.mjs reads them from $POEMNET_GOLDEN; tests/test_js_twin.py runs both.
`write_golden(model_path, out, ci=True)` writes the 词 cases instead (ci_poem_requests,
ci_rejected_requests) for a model that knows 五绝 and the 词牌 of CI_FORMS; tests/test_ci_twin.py runs them.
"""

import base64
import dataclasses
import importlib.util
import itertools
import json
import shutil
from pathlib import Path

import golden_topic
import numpy as np
from ci_model import CI_FORMS

from poemnet.common import corpus
from poemnet.common.errors import UserError
from poemnet.generation import model_file
from poemnet.generation.generate import generate_detailed
from poemnet.generation.model_file import VocabProsody, decode_parallel
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


# --- 词 cases: a model that knows 五绝 and these 词牌 (tests/test_ci_twin.py) ---

CI_SWITCHES = ((), ("rhyme",), ("tones",), ("no_repeat",), ("novel",), ("rhyme", "tones"), SWITCHES)
CI_ACROSTIC = "春秋山风花天云江月日长水人时心高一不东西中年白青"  # enough for 满江红's 22 lines


def ci_poem_requests(model):
    """(name, variant, Request) for every 词牌 of CI_FORMS x {none, start, acrostic} x CI_SWITCHES
    (greedy), then per 词牌 a named 部 and a named 平 group, sampled poems, its traditional name."""
    prosody = model.prosody
    for form in (f for f in model.forms if f.name in CI_FORMS):
        firsts = {"none": {}, "start": {"start": START}, "acrostic": {"acrostic": CI_ACROSTIC[: form.num_lines]}}
        for (first, chars), on in itertools.product(firsts.items(), CI_SWITCHES):
            switches = {s: s in on for s in SWITCHES}
            name = "+".join([form.name, first, *on])
            yield name, "plain", Request(form=form.name, **chars, **switches_request(switches), greedy=True, seed=0)
        part = prosody.group_names[prosody.num_groups + 6]  # 第七部: 平 and 仄 characters
        for group in (part, "东"):
            yield (
                f"{form.name}+group {group}",
                "plain",
                Request(form=form.name, rhyme=group, tones=True, no_repeat=True, greedy=True),
            )
        yield (
            f"{form.name}+sampled",
            "plain",
            Request(form=form.name, rhyme="", tones=True, no_repeat=True, novel=True, n=2, seed=7, temperature=1.5),
        )
        if form.traditional:
            yield f"{form.name} as {form.traditional}", "plain", Request(form=form.traditional, greedy=True)
    yield "满江红+月 acrostic", "plain", Request(form="满江红", acrostic="月" * 22, rhyme="", tones=True, greedy=True)
    entering = prosody.group_names[-1]  # 第十九部, 入声: no 平 character, so 水调歌头's group gives way
    yield f"水调歌头+group {entering}", "plain", Request(form="水调歌头", rhyme=entering, no_repeat=True, greedy=True)


def ci_rejected_requests(model):
    """Requests that prepare must refuse for a model with 词牌."""
    part = model.prosody.group_names[model.prosody.num_groups]
    return {
        "词 acrostic too short": Request(form="浣溪沙", acrostic="春夏秋"),
        "a 部 for a 诗": Request(form="五绝", rhyme=part),
        "a 词牌 the model lacks": Request(form="临江仙"),
        "an unsupported 词牌": Request(form="惜奴娇"),
    }


def parallel_requests(model):
    """(name, variant, Request): 对仗 in every 律诗 form of the model, greedy with no rule, with a
    start character and every rule, and sampled; for the variant model.json that carries pairs."""
    for form in (f for f in model.forms if f.name in ("五律", "七律")):
        switches = dict.fromkeys(SWITCHES, True)
        yield f"{form.name}+parallel", "parallel", Request(form=form.name, parallel=True, greedy=True)
        yield (
            f"{form.name}+start+all+parallel",
            "parallel",
            Request(form=form.name, start=START, **switches_request(switches), parallel=True, greedy=True),
        )
        yield (
            f"{form.name}+sampled+parallel",
            "parallel",
            Request(form=form.name, rhyme="", tones=True, parallel=True, n=2, seed=5, temperature=1.5),
        )


def made_up_pairs(vocab, texts):
    """对仗 pairs for a model trained without 律诗 (the random-weights one): each 绝句 twice over
    reads as a 律诗 whose middle couplets are its own couplets."""
    from poemnet.common.couplets import PairTable

    return PairTable.from_poems(text + text for text in texts).strongest()


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
    """Per position, the gap between the highest and the next score the sampler saw (the logits
    with the 对仗 bias, masked, guarded, and at a line's next-to-last character the lookahead's;
    None where there was no choice): where it is a rounding's width, the page's onnxruntime-web
    may pick the other one."""
    gaps = [None] * len(history)

    def observe(position, scores):
        finite = np.sort(scores[0][np.isfinite(scores[0])])
        gaps[position] = float(finite[-1] - finite[-2]) if len(finite) > 1 else None

    p = prepared
    (poem,) = generate_detailed(
        model.step, model.zero_state, model.vocab, p.form, 1, p.decoder, p.sampling, p.seed, observe
    )
    assert poem["text"] == model.vocab.decode(history), (poem["text"], history)
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


def golden_rejected(model, more=None):
    rows = []
    for name, request in (rejected_requests(model) | (more or {})).items():
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


def write_golden(model_path, out, ci=False):
    """Fill `out` (see the module docstring); returns golden.json's contents. `ci`: the 词 cases."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(model_path, out / "model.onnx")
    model = PoemModel(model_path)
    web = page_metadata(model_file.web_metadata(model.props))
    web["file"] = "model.onnx"
    variant = {**web, "prosody": emptied(web["prosody"])}
    (out / "model.json").write_text(json.dumps(web, ensure_ascii=False), encoding="utf-8")
    (out / "model-emptied.json").write_text(json.dumps(variant, ensure_ascii=False), encoding="utf-8")
    models = {"plain": model, "emptied": PoemModel(model_path), "parallel": PoemModel(model_path)}
    models["emptied"].prosody = VocabProsody.from_data(variant["prosody"])  # replaces the cached property
    pairs = made_up_pairs(model.vocab, [p.text for p in corpus.load()])
    models["parallel"].parallel_pairs = decode_parallel(pairs, model.vocab)
    (out / "model-parallel.json").write_text(json.dumps({**web, "parallel": pairs}, ensure_ascii=False), "utf-8")
    requests = ci_poem_requests(model) if ci else poem_requests(model, web.get("form_aliases", {}))
    poems = [
        row
        for name, kind, request in itertools.chain(requests, parallel_requests(model))
        for row in golden_poems(models[kind], name, kind, request)
    ]
    golden = {
        "models": {"plain": "model.json", "emptied": "model-emptied.json", "parallel": "model-parallel.json"},
        "request_defaults": dataclasses.asdict(Request()),
        "poems": poems,
        "rejected": golden_rejected(model, ci_rejected_requests(model) if ci else {}),
        "sampling": golden_sampling(),
    }
    if not ci:
        add_topic_cases(out, model, golden)
    (out / "golden.json").write_text(json.dumps(golden, ensure_ascii=False), encoding="utf-8")
    return golden


def add_topic_cases(out, model, golden):
    """The title, keyword and first-line cases (golden_topic.py); the titles on a model that knows them."""
    titled = PoemModel(golden_topic.titles_onnx(out / "model-titles.onnx"))
    meta = {**page_metadata(model_file.web_metadata(titled.props)), "file": "model-titles.onnx"}
    (out / "model-titles.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
    golden["models"]["titles"] = "model-titles.json"
    cases = [(model, golden_topic.topic_requests(model)), (titled, golden_topic.titles_requests(titled))]
    golden["poems"] += [row for m, requests in cases for case in requests for row in golden_poems(m, *case)]
    golden["rejected"] += golden_topic.rejected_rows(model, "plain", golden_topic.topic_rejected(model))
    golden["rejected"] += golden_topic.rejected_rows(titled, "titles", golden_topic.titles_rejected(titled))
