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
from poemnet.common.forms import FORMS, HANZI_RANGES
from poemnet.common.vocab import Vocab
from poemnet.generation.line_filter import BASES, PRIME, LineFilter

FORMAT_VERSION = 2  # 2 adds the prosody data and the corpus line filter; 1 still loads without them
READABLE_FORMATS = ("1", "2")
INPUTS = ("tokens", "h", "c")
OUTPUTS = ("logits", "h_out", "c_out")
TONE_CLASSES = "PZEU-"  # 平 only, 仄 only, either, unknown to the rhyme book, not a character
TEMPLATE_TONES = "平仄中"


class DamagedModel(ValueError):
    """A metadata field that does not hold what the format says."""


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
    {character: [[partner, pmi], ...]}, the corpus's 对仗 pairs (common/couplets.py)."""
    props = {
        "poemnet_format": str(FORMAT_VERSION),
        "vocab": json.dumps(vocab.tokens, ensure_ascii=False),
        "forms": json.dumps(forms, ensure_ascii=False),
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


@dataclass(frozen=True)
class VocabProsody:
    """The model file's prosody data as arrays over the vocabulary."""

    ping: np.ndarray  # bool [V]: may stand where 平 is required (平 or either)
    ze: np.ndarray  # bool [V]: may stand where 仄 is required (仄 or either)
    ze_only: np.ndarray  # bool [V]: 仄 only: may end a line that must not rhyme
    rhyme_char: np.ndarray  # bool [V]: 平 only, in exactly one 平 group: may end a rhyming line
    rhyme_group: np.ndarray  # int [V]: that group, -1 for every other token
    group_names: list
    templates: dict  # form name -> [{'name', 'lines'}]

    @classmethod
    def from_data(cls, data):
        tones = np.array(list(data["tones"]))
        groups = data["ping_groups"]
        single = np.array([len(g) == 1 for g in groups])
        rhyme_char = (tones == "P") & single
        rhyme_group = np.array([g[0] if ok else -1 for g, ok in zip(groups, rhyme_char)], np.int64)
        return cls(
            (tones == "P") | (tones == "E"),
            (tones == "Z") | (tones == "E"),
            tones == "Z",
            rhyme_char,
            rhyme_group,
            list(data["group_names"]),
            data["templates"],
        )


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
    if not isinstance(names, list) or not names or any(n not in FORMS for n in names):
        raise DamagedModel(f"forms {names!r} are not a list of the known forms {list(FORMS)}")
    untokened = [n for n in names if n not in vocab.form_names]
    if untokened:
        raise DamagedModel(f"the vocabulary has no token for the forms {untokened}")
    if props.get("script") not in ("simplified", "traditional"):
        raise DamagedModel(f"script {props.get('script')!r} is neither simplified nor traditional")
    layers, hidden = _positive_int(props, "num_layers"), _positive_int(props, "hidden_dim")
    return Metadata(props, vocab, [FORMS[n] for n in names], props["script"], layers, hidden)


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


def check_prosody(data, vocab_size, forms):
    """The prosody data, every field checked against the vocabulary, the groups and the forms."""
    if not isinstance(data, dict):
        raise DamagedModel("prosody is not an object")
    tones, groups, names = data.get("tones"), data.get("ping_groups"), data.get("group_names")
    if not isinstance(tones, str) or len(tones) != vocab_size or set(tones) - set(TONE_CLASSES):
        raise DamagedModel(f"prosody.tones must be {vocab_size} classes from {TONE_CLASSES}")
    if not isinstance(names, list) or not names or not all(isinstance(n, str) and n for n in names):
        raise DamagedModel("prosody.group_names must be a list of names")
    if not isinstance(groups, list) or len(groups) != vocab_size:
        raise DamagedModel(f"prosody.ping_groups must list the groups of all {vocab_size} entries")
    for g in groups:
        if not isinstance(g, list) or not all(type(i) is int and 0 <= i < len(names) for i in g):
            raise DamagedModel(f"prosody.ping_groups holds {g!r}, not a list of group ids below {len(names)}")
    templates = data.get("templates")
    if not isinstance(templates, dict):
        raise DamagedModel("prosody.templates must map forms to templates")
    for form in forms:
        _check_templates(templates.get(form.name), form)
    return data


def _check_templates(templates, form):
    if not isinstance(templates, list) or not templates:
        raise DamagedModel(f"prosody.templates has no templates for {form.name}")
    for t in templates:
        lines = t.get("lines") if isinstance(t, dict) else None
        if (
            not isinstance(t.get("name") if isinstance(t, dict) else None, str)
            or not isinstance(lines, list)
            or len(lines) != form.num_lines
        ):
            raise DamagedModel(f"a {form.name} template must have a name and {form.num_lines} lines")
        for line in lines:
            if not isinstance(line, str) or len(line) != form.line_len or set(line) - set(TEMPLATE_TONES):
                raise DamagedModel(f"a {form.name} template line must be {form.line_len} of {TEMPLATE_TONES}: {line!r}")


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
        "form_layouts": {f.name: {"line_len": f.line_len, "num_lines": f.num_lines} for f in meta.forms},
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
