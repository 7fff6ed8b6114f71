"""Export a training artifact to the stepwise ONNX model that infer.py runs, and quantize it.

Graph: tokens int64 [B], h float32 [L, B, H], c float32 [L, B, H]  ->  logits [B, V], h_out, c_out,
batch dynamic. Everything decoding needs rides in metadata_props (see generation/model_file.py).
"""

import tempfile
import warnings
from pathlib import Path

import onnx
import torch

from poemnet.common.atomic import write_bytes_atomic
from poemnet.common.corpus import is_validation
from poemnet.common.couplets import PairTable
from poemnet.common.errors import UserError
from poemnet.common.form_data import form_named, split_lines
from poemnet.common.forms import detect_form
from poemnet.common.prosody import vocab_prosody
from poemnet.generation.line_filter import LineFilter
from poemnet.generation.model_file import INPUTS, OUTPUTS, metadata_props
from poemnet.training.model import StepModule

# Opset 17 is the newest that onnxruntime, onnxruntime-web and the legacy exporter all handle well.
OPSET = 17


def metadata(model, vocab, forms, script, weights_sha256, quantization="none", corpus_texts=None, training=None):
    """The model file's metadata (model_file.py): vocabulary, forms, dimensions, the prosody data of
    every vocabulary entry and, given the corpus, the Bloom filter of its lines (for --novel) and
    the 对仗 pairs of its training split's 律诗 (for --parallel). `forms`: names of 诗 forms and 词牌
    (their layouts and templates come from form_data) or Forms."""
    named = [form_named(f) if isinstance(f, str) else f for f in forms]
    if None in named:
        unknown = forms[named.index(None)]
        raise UserError(f"{unknown} is neither a 诗 form nor a supported 词牌: train on the forms `poemnet list` shows")
    forms = named
    line_filter = pairs = None
    if corpus_texts is not None:  # every line, whatever mark closes it (a 词's 、？！； too)
        line_filter = LineFilter.build(line for text in corpus_texts for line, _ in split_lines(text) or ())
        val_fraction = (training or {}).get("val_fraction")
        train_texts = [  # the 诗 of the training split: a 词 of eight lines is no 律诗
            t for t in corpus_texts if detect_form(t) and not (val_fraction and is_validation(t, val_fraction))
        ]
        pairs = PairTable.from_poems(train_texts).strongest()
    return metadata_props(
        vocab=vocab,
        forms=forms,
        script=script,
        num_layers=model.num_layers,
        hidden_dim=model.hidden_dim,
        embedding_dim=model.embed.embedding_dim,
        weights_sha256=weights_sha256,
        prosody=vocab_prosody(vocab, forms, script),
        line_filter=line_filter,
        parallel_pairs=pairs,
        quantization=quantization,
        training=training,
    )


def _set_metadata(proto, props):
    del proto.metadata_props[:]
    for key, value in props.items():
        proto.metadata_props.add(key=key, value=value)


def export(model, props, path):
    """Write the stepwise model with its metadata, as one self-contained, checked file. The model
    is traced in eval mode (no dropout) and handed back in the mode it came in."""
    was_training = model.training
    try:
        _export(model.eval(), props, path)
    finally:
        model.train(was_training)


def _export(model, props, path):
    step = StepModule(model).eval()
    batch = 2
    h, c = model.init_state(batch)
    tokens = torch.zeros(batch, dtype=torch.long)
    axes = {
        "tokens": {0: "batch"},
        "h": {1: "batch"},
        "c": {1: "batch"},
        "logits": {0: "batch"},
        "h_out": {1: "batch"},
        "c_out": {1: "batch"},
    }
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "step.onnx"
        # The legacy (TorchScript) exporter maps nn.LSTM to ONNX LSTM ops whose weights are plain
        # initializers: quantize_dynamic then turns both layers into DynamicQuantizeLSTM as they are,
        # and export takes 0.3 s instead of 5 s. The dynamo exporter routes LSTM weights through
        # Slice/Concat, which needs a constant-folding pass before int8 quantization.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                step,
                (tokens, h, c),
                str(raw),
                dynamo=False,
                opset_version=OPSET,
                input_names=list(INPUTS),
                output_names=list(OUTPUTS),
                dynamic_axes=axes,
            )
        proto = onnx.load(str(raw))
    _set_metadata(proto, props)
    _save_checked(proto, path)


def _save_checked(proto, path):
    onnx.checker.check_model(proto)
    write_bytes_atomic(path, proto.SerializeToString())


def quantize_int8(src, dst):
    """The int8 copy of a model file: weights in 8 bits, activations quantized row by row so that
    a poem does not depend on its batch (int8.py)."""
    from poemnet.training import int8

    int8.quantize(src, dst)


def count_ops(path):
    counts = {}
    for node in onnx.load(str(path)).graph.node:
        counts[node.op_type] = counts.get(node.op_type, 0) + 1
    return counts
