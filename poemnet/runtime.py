"""The exported model under onnxruntime: load, check the metadata, step. No torch here."""
import json
import os
from functools import cached_property
from pathlib import Path

import numpy as np
import onnxruntime as ort

from poemnet.errors import UserError
from poemnet.decoding import Prosody
from poemnet.forms import FORMS
from poemnet.novelty import LineFilter, check_metadata
from poemnet.vocab import Vocab

FORMAT_VERSION = 2  # 2 adds the prosody data and the corpus line filter; 1 still loads without them
READABLE_FORMATS = ("1", "2")
INPUTS = ("tokens", "h", "c")
OUTPUTS = ("logits", "h_out", "c_out")


def session_options(threads=None):
    """Low latency for one small graph: all graph optimizations, sequential execution, a few
    intra-op threads (more only add spin-up cost for these small matrices)."""
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.intra_op_num_threads = threads or min(4, os.cpu_count() or 1)
    options.inter_op_num_threads = 1
    return options


def damaged(path, e):
    return UserError(f"{path} has damaged PoemNet metadata ({type(e).__name__}: {str(e)[:80]}): re-export it with export.py")


class PoemModel:
    """An exported PoemNet model: `step` and `zero_state` for poemnet.generate, plus its metadata."""

    def __init__(self, path, threads=None):
        path = Path(path)
        if not path.is_file():
            raise UserError(f"model file {path} not found: run `python export.py` after training, or pass --model")
        try:
            self.session = ort.InferenceSession(str(path), session_options(threads), providers=["CPUExecutionProvider"])
        except Exception as e:  # onnxruntime raises its own classes for protobuf and graph errors
            raise UserError(f"{path} is not a loadable ONNX model ({str(e).splitlines()[0][:120]}): export it with export.py")
        props = self.session.get_modelmeta().custom_metadata_map
        if "poemnet_format" not in props:
            raise UserError(f"{path} is an ONNX model but not a PoemNet one (no poemnet metadata): export it with export.py")
        if props["poemnet_format"] not in READABLE_FORMATS:
            raise UserError(f"{path} has PoemNet format {props['poemnet_format']}, this version reads "
                            f"{', '.join(READABLE_FORMATS)}: re-export it with this version's export.py")
        self.path, self.props = path, props
        try:
            self._read_metadata(props)
        except (KeyError, ValueError, TypeError) as e:  # json.JSONDecodeError is a ValueError
            raise damaged(path, e)
        self._check_graph(path)

    def _read_metadata(self, props):
        self.vocab = Vocab(json.loads(props["vocab"]))
        names = json.loads(props["forms"])
        unknown = [n for n in names if n not in FORMS]
        if unknown or not names:
            raise ValueError(f"forms {names} are not all among {list(FORMS)}")
        self.forms = [FORMS[name] for name in names]
        self.script = props["script"]
        self.num_layers, self.hidden_dim = int(props["num_layers"]), int(props["hidden_dim"])
        if "novel" in props:
            check_metadata(json.loads(props["novel"]), props["novel_bloom"])

    @cached_property
    def prosody(self):
        """Tones and rhyme groups over the vocabulary (None in a format-1 file), read on first use:
        only --rhyme and --tones need them."""
        if "prosody" not in self.props:
            return None
        try:
            prosody = Prosody.from_data(json.loads(self.props["prosody"]))
            if len(prosody.ping) != len(self.vocab):
                raise ValueError("the prosody data does not cover the vocabulary")
        except (KeyError, ValueError, TypeError) as e:
            raise damaged(self.path, e)
        return prosody

    @cached_property
    def line_filter(self):
        """The corpus line filter (None in a format-1 file), decoded on first use: 2 MB of base64
        that only --novel needs."""
        if "novel" not in self.props:
            return None
        return LineFilter.from_metadata(json.loads(self.props["novel"]), self.props["novel_bloom"])

    def _check_graph(self, path):
        """The metadata must describe the graph it rides with."""
        shapes = {i.name: i.shape for i in self.session.get_inputs()}
        outputs = {o.name: o.shape for o in self.session.get_outputs()}
        if set(shapes) != set(INPUTS) or not set(OUTPUTS) <= set(outputs):
            raise UserError(f"{path} does not have the inputs {INPUTS} and outputs {OUTPUTS} of a PoemNet step: re-export it")
        expected = {"h": [self.num_layers, None, self.hidden_dim], "logits": [None, len(self.vocab)]}
        actual = {"h": shapes["h"], "logits": outputs["logits"]}
        for name, dims in expected.items():
            if any(want is not None and got != want for want, got in zip(dims, actual[name])):
                raise UserError(f"{path}'s metadata says {name} is {dims} but the graph has {actual[name]}: re-export it")

    def zero_state(self, batch_size):
        shape = (self.num_layers, batch_size, self.hidden_dim)
        return np.zeros(shape, np.float32), np.zeros(shape, np.float32)

    def step(self, tokens, h, c):
        logits, h, c = self.session.run(list(OUTPUTS), {"tokens": np.asarray(tokens, np.int64), "h": h, "c": c})
        return logits, h, c


def top1_agreement(model_a, model_b, tokens):
    """(agreeing, total) positions where two models fed the same tokens [N, T] (teacher forcing)
    pick the same likeliest next token: how far int8 strays from fp32."""
    (ha, ca), (hb, cb) = model_a.zero_state(len(tokens)), model_b.zero_state(len(tokens))
    agree = 0
    for t in range(tokens.shape[1] - 1):
        la, ha, ca = model_a.step(tokens[:, t], ha, ca)
        lb, hb, cb = model_b.step(tokens[:, t], hb, cb)
        agree += int((la.argmax(-1) == lb.argmax(-1)).sum())
    return agree, len(tokens) * (tokens.shape[1] - 1)
