"""The PoemNet model file's metadata: its keys and versions, written here, read and checked here.

A model file is one ONNX graph of one model step (INPUTS -> OUTPUTS, batch dynamic) whose
`metadata_props` carry everything decoding needs: the vocabulary, the forms, the dimensions, the
prosody data of every vocabulary entry and the corpus line filter. The exporter writes the
strings `metadata_props` returns; the runtime reads them with `read_metadata`; the web build
turns them into model.json with `web_metadata`. Every field a rule will read is checked, strictly,
before decoding starts: a damaged file ends in one `error:` line, never in a traceback or a
silently wrong rule. No torch here.
"""

import base64
import binascii
import json
import math
from dataclasses import dataclass, field

import numpy as np

from poemnet.common.errors import UserError
from poemnet.common.form_data import form_dict, form_of
from poemnet.common.forms import FORMS, HANZI_RANGES, PUNCTUATION
from poemnet.common.vocab import Vocab
from poemnet.generation.line_filter import BASES, PRIME, LineFilter
from poemnet.generation.model_prosody import (  # noqa: F401 (re-exported: the prosody field's reader)
    TEMPLATE_TONES,
    TONE_CLASSES,
    DamagedModel,
    VocabProsody,
    check_prosody,
)

# 2 adds the prosody data and the corpus line filter; 3 the forms' layouts (form_layouts: 词牌 beside
# the 诗 forms) and, for a model that knows a 词牌, the 词林正韵 部 of each entry. 1 and 2 still load.
FORMAT_VERSION = 3
READABLE_FORMATS = ("1", "2", "3")
INPUTS = ("tokens", "h", "c")
OUTPUTS = ("logits", "h_out", "c_out")


def metadata_props(
    *,
    vocab,
    forms,
    script,
    num_layers,
    hidden_dim,
    embedding_dim,
    weights_sha256,
    prosody=None,
    line_filter=None,
    parallel_pairs=None,
    quantization="none",
    training=None,
):
    """The metadata of a model file as {key: string}: what the exporter writes. `parallel_pairs`:
    {character: [[partner, pmi], ...]}, the corpus's 对仗 pairs (common/couplets.py). `forms`: Forms
    (or names of FORMS)."""
    forms = [FORMS[f] if isinstance(f, str) else f for f in forms]
    props = {
        "poemnet_format": str(FORMAT_VERSION),
        "vocab": json.dumps(vocab.tokens, ensure_ascii=False),
        "forms": json.dumps([f.name for f in forms], ensure_ascii=False),
        "form_layouts": json.dumps({f.name: form_dict(f) for f in forms}, ensure_ascii=False, separators=(",", ":")),
        "script": script,
        "num_layers": str(num_layers),
        "hidden_dim": str(hidden_dim),
        "embedding_dim": str(embedding_dim),
        "vocab_size": str(len(vocab)),
        "weights_sha256": weights_sha256,
        "quantization": quantization,
    }
    if prosody is not None:
        props["prosody"] = json.dumps(prosody, ensure_ascii=False, separators=(",", ":"))
    if parallel_pairs:
        props["parallel"] = json.dumps(parallel_pairs, ensure_ascii=False, separators=(",", ":"))
    if training is not None:  # where the evaluation finds the corpus and its validation split
        props["training"] = json.dumps(training, ensure_ascii=False)
    if line_filter is not None:  # bit i of the filter is bit (i & 7) of byte (i >> 3)
        f = line_filter
        props["novel"] = json.dumps(
            {
                "num_bits": f.m,
                "num_hashes": f.k,
                "count": f.count,
                "prime": PRIME,
                "bases": list(BASES),
                "expected_fpr": round(f.expected_fpr(), 5),
            }
        )
        props["novel_bloom"] = base64.b64encode(f.bits.tobytes()).decode("ascii")
    return props


@dataclass
class Metadata:
    """What a model file says about itself; prosody and the line filter are decoded on first use."""

    props: dict
    vocab: Vocab
    forms: list  # [Form]
    script: str
    num_layers: int
    hidden_dim: int
    _decoded: dict = field(default_factory=dict)

    def prosody(self):
        """VocabProsody, or None in a format-1 file; raises DamagedModel."""
        if "prosody" not in self._decoded:
            raw = self.props.get("prosody")
            self._decoded["prosody"] = (
                None
                if raw is None
                else VocabProsody.from_data(check_prosody(_json(raw, "prosody"), len(self.vocab), self.forms))
            )
        return self._decoded["prosody"]

    def parallel_pairs(self):
        """ParallelPairs, or None when the file carries none (a model without 律诗); raises DamagedModel."""
        if "parallel" not in self._decoded:
            raw = self.props.get("parallel")
            self._decoded["parallel"] = None if raw is None else decode_parallel(_json(raw, "parallel"), self.vocab)
        return self._decoded["parallel"]

    def line_filter(self):
        """LineFilter, or None in a format-1 file; raises DamagedModel."""
        if "novel" not in self._decoded:
            raw = self.props.get("novel")
            self._decoded["novel"] = (
                None if raw is None else decode_line_filter(_json(raw, "novel"), self.props.get("novel_bloom"))
            )
        return self._decoded["novel"]


@dataclass(frozen=True)
class ParallelPairs:
    """The 对仗 pairs over the vocabulary: for token a, the partners b and their weights (pmi)."""

    partners: dict  # token id -> (int64 ids [k], float32 weights [k])


def decode_parallel(data, vocab):
    """ParallelPairs from the `parallel` field, checked: characters map to vocabulary ids (others are
    dropped: a pair the model cannot write does not matter), weights are finite numbers."""
    if not isinstance(data, dict):
        raise DamagedModel("parallel must map characters to partner lists")
    partners = {}
    for a, found in data.items():
        if not isinstance(found, list) or not all(
            isinstance(p, list)
            and len(p) == 2
            and isinstance(p[0], str)
            and isinstance(p[1], (int, float))
            and math.isfinite(p[1])
            for p in found
        ):
            raise DamagedModel(f"parallel[{a!r}] must be a list of [character, weight] pairs")
        known = [(vocab.index[b], w) for b, w in found if b in vocab.index]
        if a in vocab.index and known:
            ids, weights = zip(*known)
            partners[vocab.index[a]] = (np.array(ids, np.int64), np.array(weights, np.float32))
    return ParallelPairs(partners)


def read_metadata(props):
    """Metadata from a model file's {key: string}; raises DamagedModel for a field that is wrong.
    The caller checks `poemnet_format` first (see check_format)."""
    try:
        vocab = Vocab(_json(props["vocab"], "vocab"))
    except (KeyError, TypeError, ValueError) as e:
        raise DamagedModel(f"vocab: {e}")
    names = _json(_required(props, "forms"), "forms")
    layouts = _json(props["form_layouts"], "form_layouts") if "form_layouts" in props else {}
    if not isinstance(layouts, dict):
        raise DamagedModel("form_layouts must map forms to their layouts")
    if (
        not isinstance(names, list)
        or not names
        or len(set(map(str, names))) != len(names)
        or any(not isinstance(n, str) or (n not in FORMS and n not in layouts) for n in names)
    ):
        raise DamagedModel(
            f"forms {names!r} are not a list of the known forms {list(FORMS)} or of forms form_layouts describes"
        )
    untokened = [n for n in names if n not in vocab.form_names]
    if untokened:
        raise DamagedModel(f"the vocabulary has no token for the forms {untokened}")
    if props.get("script") not in ("simplified", "traditional"):
        raise DamagedModel(f"script {props.get('script')!r} is neither simplified nor traditional")
    layers, hidden = _positive_int(props, "num_layers"), _positive_int(props, "hidden_dim")
    forms = [check_form(n, layouts[n]) if n in layouts else FORMS[n] for n in names]
    return Metadata(props, vocab, forms, props["script"], layers, hidden)


def check_form(name, data):
    """The Form a form_layouts entry describes, checked: lines of 1+ characters each closed by one of
    ，。、？！；, a 片 boundary inside the poem; a 诗 form's layout must be its own."""
    if not isinstance(data, dict):
        raise DamagedModel(f"form_layouts[{name!r}] is not an object")
    layout, pian, kind = data.get("layout"), data.get("pian"), data.get("kind")
    lines_ok = (
        isinstance(layout, list)
        and layout
        and all(
            isinstance(line, list)
            and len(line) == 2
            and type(line[0]) is int
            and line[0] >= 1
            and line[1] in PUNCTUATION
            for line in layout
        )
    )
    if not lines_ok or kind not in ("诗", "词") or not isinstance(data.get("traditional", name), str):
        raise DamagedModel(
            f"form_layouts[{name!r}] must give a kind (诗 or 词) and lines of [length, one of {PUNCTUATION}]"
        )
    if pian is not None and not (type(pian) is int and 0 < pian < len(layout)):
        raise DamagedModel(f"form_layouts[{name!r}].pian must be a line inside the poem or null")
    form = form_of({**data, "name": name})
    if kind == "诗" and form != FORMS.get(name):
        raise DamagedModel(f"form_layouts[{name!r}] is not the layout of the 诗 form {name}")
    return form


def check_format(props, path):
    """UserError unless the props are a PoemNet model's, in a format this version reads."""
    if "poemnet_format" not in props:
        raise UserError(
            f"{path} is an ONNX model but not a PoemNet one (no poemnet metadata): export it with export.py"
        )
    if props["poemnet_format"] not in READABLE_FORMATS:
        raise UserError(
            f"{path} has PoemNet format {props['poemnet_format']}, this version reads "
            f"{', '.join(READABLE_FORMATS)}: re-export it with this version's export.py"
        )


def check_graph(path, inputs, outputs, meta):
    """The graph's {name: shape} inputs and outputs must be a PoemNet step of the described sizes."""
    if set(inputs) != set(INPUTS) or not set(OUTPUTS) <= set(outputs):
        raise UserError(
            f"{path} does not have the inputs {INPUTS} and outputs {OUTPUTS} of a PoemNet step: re-export it"
        )
    expected = {
        "h": ([meta.num_layers, None, meta.hidden_dim], inputs["h"]),
        "logits": ([None, len(meta.vocab)], outputs["logits"]),
    }
    for name, (dims, actual) in expected.items():
        if len(actual) != len(dims) or any(want is not None and got != want for want, got in zip(dims, actual)):
            raise UserError(
                f"{path} has damaged PoemNet metadata: it says {name} is {dims} but the graph has "
                f"{actual}: re-export it with export.py"
            )


def damaged(path, e):
    return UserError(f"{path} has damaged PoemNet metadata ({str(e)[:120]}): re-export it with export.py")


def decode_line_filter(params, bits_b64):
    """The corpus line filter from its two metadata fields, checked strictly (base64 included)."""
    if not isinstance(params, dict) or not isinstance(bits_b64, str):
        raise DamagedModel("the line filter needs its parameters and its bits (novel, novel_bloom)")
    for key in ("num_bits", "num_hashes", "count"):
        value = params.get(key)
        if type(value) is not int or value < (0 if key == "count" else 1):
            raise DamagedModel(f"novel.{key} must be a positive integer, not {value!r}")
    if params.get("prime") != PRIME or params.get("bases") != list(BASES):
        raise DamagedModel("the line filter was hashed with other constants")
    try:
        bits = base64.b64decode(bits_b64, validate=True)
    except (binascii.Error, ValueError) as e:
        raise DamagedModel(f"novel_bloom is not base64 ({e})")
    if len(bits) != (params["num_bits"] + 7) // 8:
        raise DamagedModel(f"novel_bloom holds {len(bits)} bytes, its size says {(params['num_bits'] + 7) // 8}")
    return LineFilter(np.frombuffer(bits, np.uint8), params["num_bits"], params["num_hashes"], params["count"])


def web_metadata(props):
    """model.json for the page (onnxruntime-web cannot read metadata_props): the same fields,
    checked the same way, plus the constants the JavaScript twin must not hard-code."""
    meta = read_metadata(props)
    web = {
        "format": int(props["poemnet_format"]),
        "file": "poemnet.onnx",
        "vocab": meta.vocab.tokens,
        "forms": [f.name for f in meta.forms],
        "script": meta.script,
        "num_layers": meta.num_layers,
        "hidden_dim": meta.hidden_dim,
        "num_reserved": meta.vocab.num_reserved,
        "hanzi_ranges": [list(r) for r in HANZI_RANGES],
        "form_layouts": {f.name: form_dict(f) for f in meta.forms},
    }
    if meta.prosody() is not None:
        web["prosody"] = json.loads(props["prosody"])
    if meta.line_filter() is not None:
        web["novel"], web["novel_bloom"] = json.loads(props["novel"]), props["novel_bloom"]
    if meta.parallel_pairs() is not None:
        web["parallel"] = json.loads(props["parallel"])
    return web


def _json(text, key):
    try:
        return json.loads(text)
    except (TypeError, ValueError) as e:
        raise DamagedModel(f"{key} is not JSON ({e})")


def _required(props, key):
    if key not in props:
        raise DamagedModel(f"{key} is missing")
    return props[key]


def _positive_int(props, key):
    text = _required(props, key)
    if not text.isdigit() or int(text) < 1:
        raise DamagedModel(f"{key} must be a positive integer, not {text!r}")
    return int(text)
