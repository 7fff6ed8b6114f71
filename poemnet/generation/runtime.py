"""The exported model under onnxruntime: load, check the metadata, step. No torch here."""

import os
from functools import cached_property
from pathlib import Path

import numpy as np
import onnxruntime as ort

from poemnet.common.errors import UserError
from poemnet.generation import model_file
from poemnet.generation.generate import zero_state
from poemnet.generation.model_file import OUTPUTS


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
    """An exported PoemNet model: `step` and `zero_state` for the generation loop, plus its metadata."""

    def __init__(self, path, threads=None):
        path = Path(path)
        if not path.is_file():
            what = "is a folder, not a model file" if path.is_dir() else "not found"
            raise UserError(f"model file {path} {what}: pass an .onnx file written by export.py")
        try:
            self.session = ort.InferenceSession(str(path), session_options(threads), providers=["CPUExecutionProvider"])
        except Exception as e:  # onnxruntime raises its own classes for protobuf and graph errors
            raise UserError(
                f"{path} is not a loadable ONNX model ({str(e).splitlines()[0][:120]}): export it with export.py"
            )
        self.path, self.props = path, self.session.get_modelmeta().custom_metadata_map
        model_file.check_format(self.props, path)
        try:
            self.meta = model_file.read_metadata(self.props)
        except model_file.DamagedModel as e:
            raise model_file.damaged(path, e)
        self.vocab, self.forms, self.script = self.meta.vocab, self.meta.forms, self.meta.script
        self.num_layers, self.hidden_dim = self.meta.num_layers, self.meta.hidden_dim
        model_file.check_graph(
            path,
            {i.name: i.shape for i in self.session.get_inputs()},
            {o.name: o.shape for o in self.session.get_outputs()},
            self.meta,
        )

    @cached_property
    def prosody(self):
        """Tones and rhyme groups over the vocabulary (None in a format-1 file), checked and decoded
        on first use: only --rhyme and --tones need them."""
        return self._decoded(self.meta.prosody)

    @cached_property
    def line_filter(self):
        """The corpus line filter (None in a format-1 file), checked and decoded on first use:
        2 MB of base64 that only --novel needs."""
        return self._decoded(self.meta.line_filter)

    @cached_property
    def parallel_pairs(self):
        """The corpus's 对仗 pairs (None where the file carries none), decoded on first use: only
        --parallel needs them."""
        return self._decoded(self.meta.parallel_pairs)

    def _decoded(self, read):
        try:
            return read()
        except model_file.DamagedModel as e:
            raise model_file.damaged(self.path, e)

    def zero_state(self, batch_size):
        return zero_state(self.num_layers, self.hidden_dim, batch_size)

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
