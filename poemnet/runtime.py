"""The exported model under onnxruntime: load, check the metadata, step. No torch here."""
import json
import os
from pathlib import Path

import numpy as np
import onnxruntime as ort

from poemnet.errors import UserError
from poemnet.forms import FORMS
from poemnet.vocab import Vocab

FORMAT_VERSION = 1
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
        if props["poemnet_format"] != str(FORMAT_VERSION):
            raise UserError(f"{path} has PoemNet format {props['poemnet_format']}, this version reads "
                            f"{FORMAT_VERSION}: re-export it with this version's export.py")
        self.path, self.props = path, props
        self.vocab = Vocab(json.loads(props["vocab"]))
        self.forms = [FORMS[name] for name in json.loads(props["forms"])]
        self.script = props["script"]
        self.num_layers, self.hidden_dim = int(props["num_layers"]), int(props["hidden_dim"])

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
