"""The int8 model file: one model step written op by op, with activations quantized per row.

onnxruntime's DynamicQuantizeLSTM and DynamicQuantizeMatMul quantize their input with one scale
over the whole batch tensor, so a poem's logits move with the other poems of its batch. Here every
matrix product quantizes its input row by row (symmetric int8, scale = the row's largest |value|
/ 127), multiplies int8 by int8 weights (MatMulInteger) and rescales by the row's scale times the
weights' scale: each row depends on nothing but itself, so poem i is the same for every batch size.

Weights: the LSTM matrices int8 with one scale per matrix, the output layer int8 with one scale
per character, the embedding uint8 (stored 8-bit, dequantized per row when looked up). The graph
has the same inputs, outputs and metadata as the fp32 step; onnx and numpy only, no torch.
"""

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from poemnet.generation.model_file import INPUTS, OUTPUTS

OPSET = 17


def weights_from_onnx(proto):
    """{embed, layers: [(W, R, b)], head_w [V, H], head_b} from an fp32 step graph (LSTM ops)."""
    inits = {i.name: numpy_helper.to_array(i) for i in proto.graph.initializer}
    layers, embed, head_w, head_b = [], None, None, None
    for node in proto.graph.node:
        if node.op_type == "LSTM":
            w, r = inits[node.input[1]][0], inits[node.input[2]][0]
            hidden = r.shape[1]
            b = inits[node.input[3]][0] if len(node.input) > 3 and node.input[3] else np.zeros(8 * hidden, np.float32)
            layers.append((w, r, b[: 4 * hidden] + b[4 * hidden :]))
        elif node.op_type == "Gather" and node.input[0] in inits:
            embed = inits[node.input[0]]
        elif node.op_type == "Gemm" and node.input[1] in inits:
            transposed = any(a.name == "transB" and a.i == 1 for a in node.attribute)
            head_w = inits[node.input[1]] if transposed else inits[node.input[1]].T
            head_b = inits[node.input[2]]
    if embed is None or head_w is None or not layers:
        raise ValueError("not a PoemNet fp32 step graph (LSTM ops, an embedding Gather and a Gemm head)")
    return {"embed": embed, "layers": layers, "head_w": head_w, "head_b": head_b}


def weights_from_dynamic_int8(proto):
    """The same weights, dequantized, from a quantize_dynamic file (DynamicQuantizeLSTM, a per-channel
    MatMulInteger head, a DequantizeLinear embedding): how the shipped int8 model is re-made."""
    inits = {i.name: numpy_helper.to_array(i) for i in proto.graph.initializer}

    def deq(name):
        zero = inits.get(name[: -len("_quantized")] + "_zero_point", 0)
        scale = inits[name[: -len("_quantized")] + "_scale"]
        return (inits[name].astype(np.float32) - np.asarray(zero, np.float32)) * scale

    layers, head_w = [], None
    for node in proto.graph.node:
        if node.op_type == "DynamicQuantizeLSTM":
            w, r, b = deq(node.input[1])[0].T, deq(node.input[2])[0].T, inits[node.input[3]][0]
            layers.append((w, r, b[: b.size // 2] + b[b.size // 2 :]))
        elif node.op_type == "MatMulInteger" and node.input[1] in inits:
            head_w = deq(node.input[1]).T
        elif node.op_type == "Add" and node.output[0] == OUTPUTS[0]:
            head_b = inits[node.input[1]]
    embed = deq(next(n for n in inits if n.endswith("embed.weight_quantized")))
    return {"embed": embed, "layers": layers, "head_w": head_w, "head_b": head_b}


def _symmetric(w, axis=None):
    """int8 values and float32 scale(s): scale = max |w| / 127 over `axis` (None: the whole matrix)."""
    peak = np.abs(w).max(axis=axis, keepdims=axis is not None)
    scale = np.where(peak > 0, peak / 127.0, 1.0).astype(np.float32)
    return np.clip(np.rint(w / scale), -127, 127).astype(np.int8), scale


class _Graph:
    """A small builder: initializers and nodes with generated names."""

    def __init__(self):
        self.nodes, self.inits, self.count = [], [], 0

    def const(self, name, array):
        self.inits.append(numpy_helper.from_array(np.asarray(array), name))
        return name

    def op(self, op_type, inputs, n_out=1, **attrs):
        self.count += 1
        outs = [f"{op_type.lower()}_{self.count}_{i}" for i in range(n_out)]
        self.nodes.append(helper.make_node(op_type, list(inputs), outs, **attrs))
        return outs[0] if n_out == 1 else outs

    def row_quantized_matmul(self, x, w, name):
        """x [B, K] float32 times w [K, N] (float32, quantized here), each row of x quantized alone."""
        per_column = name == "head"
        q, scale = _symmetric(w, axis=0 if per_column else None)
        wq, ws = self.const(f"{name}.w_int8", q), self.const(f"{name}.w_scale", scale.reshape(-1))
        peak = self.op("ReduceMax", [self.op("Abs", [x])], axes=[1], keepdims=1)  # [B, 1]
        row_scale = self.op(
            "Max",
            [
                self.op("Div", [peak, self.const(f"{name}.127", np.float32(127))]),
                self.const(f"{name}.tiny", np.float32(1e-30)),
            ],
        )
        rounded = self.op("Round", [self.op("Div", [x, row_scale])])
        # shifted to uint8 around a zero point of 128 shared by every row: onnxruntime's fast
        # kernels multiply uint8 activations by int8 weights
        clipped = self.op(
            "Clip", [rounded, self.const(f"{name}.lo", np.float32(-127)), self.const(f"{name}.hi", np.float32(127))]
        )
        xq = self.op(
            "Cast", [self.op("Add", [clipped, self.const(f"{name}.128f", np.float32(128))])], to=TensorProto.UINT8
        )
        zero = self.const(f"{name}.zero", np.uint8(128))
        product = self.op("Cast", [self.op("MatMulInteger", [xq, wq, zero])], to=TensorProto.FLOAT)
        # the weights' scale first: onnxruntime fuses MatMulInteger-Cast-Mul into MatMulIntegerToFloat
        # and would take a [B, 1] scale in that Mul for one scale of the whole batch
        return self.op("Mul", [self.op("Mul", [product, ws]), row_scale])

    def lstm_cell(self, x, h, c, w, r, b, k):
        """One LSTM step in the ONNX gate order i, o, f, c: gates = x W^T + h R^T + b."""
        gates = self.op(
            "Add",
            [
                self.op(
                    "Add",
                    [self.row_quantized_matmul(x, w.T, f"lstm{k}.W"), self.row_quantized_matmul(h, r.T, f"lstm{k}.R")],
                ),
                self.const(f"lstm{k}.b", b.astype(np.float32)),
            ],
        )
        i, o, f, g = self.op("Split", [gates], n_out=4, axis=1)
        i, o, f, g = self.op("Sigmoid", [i]), self.op("Sigmoid", [o]), self.op("Sigmoid", [f]), self.op("Tanh", [g])
        c_new = self.op("Add", [self.op("Mul", [f, c]), self.op("Mul", [i, g])])
        return self.op("Mul", [o, self.op("Tanh", [c_new])]), c_new


def _embedding(g, embed, tokens):
    """uint8 table, asymmetric per tensor; a looked-up row is dequantized alone."""
    lo, hi = float(embed.min()), float(embed.max())
    scale = np.float32(max(hi - lo, 1e-12) / 255)
    zero = np.uint8(np.clip(np.rint(-lo / scale), 0, 255))
    table = np.clip(np.rint(embed / scale) + zero, 0, 255).astype(np.uint8)
    rows = g.op("Gather", [g.const("embed.uint8", table), tokens], axis=0)
    return g.op("DequantizeLinear", [rows, g.const("embed.scale", scale), g.const("embed.zero", zero)])


def build(weights, props):
    """The row-wise int8 step graph as a ModelProto, with the metadata `props`."""
    g = _Graph()
    layers = weights["layers"]
    hidden = layers[0][1].shape[1]
    x = _embedding(g, weights["embed"], INPUTS[0])
    hs, cs = [], []
    for k, (w, r, b) in enumerate(layers):
        index = g.const(f"layer{k}", np.array(k, np.int64))
        h_k, c_k = g.op("Gather", [INPUTS[1], index], axis=0), g.op("Gather", [INPUTS[2], index], axis=0)
        x, c_new = g.lstm_cell(x, h_k, c_k, w, r, b, k)
        hs.append(g.op("Unsqueeze", [x, g.const(f"axis{k}", np.array([0], np.int64))]))
        cs.append(g.op("Unsqueeze", [c_new, f"axis{k}"]))
    logits = g.op("Add", [g.row_quantized_matmul(x, weights["head_w"].T, "head"), g.const("head.b", weights["head_b"])])
    g.nodes += [
        helper.make_node("Identity", [logits], [OUTPUTS[0]]),
        helper.make_node("Concat", hs, [OUTPUTS[1]], axis=0),
        helper.make_node("Concat", cs, [OUTPUTS[2]], axis=0),
    ]
    graph = helper.make_graph(
        g.nodes,
        "poemnet_step_int8",
        [
            helper.make_tensor_value_info(INPUTS[0], TensorProto.INT64, ["batch"]),
            helper.make_tensor_value_info(INPUTS[1], TensorProto.FLOAT, [len(layers), "batch", hidden]),
            helper.make_tensor_value_info(INPUTS[2], TensorProto.FLOAT, [len(layers), "batch", hidden]),
        ],
        [
            helper.make_tensor_value_info(OUTPUTS[0], TensorProto.FLOAT, ["batch", weights["head_w"].shape[0]]),
            helper.make_tensor_value_info(OUTPUTS[1], TensorProto.FLOAT, [len(layers), "batch", hidden]),
            helper.make_tensor_value_info(OUTPUTS[2], TensorProto.FLOAT, [len(layers), "batch", hidden]),
        ],
        g.inits,
    )
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="poemnet")
    proto.ir_version = 8  # what onnxruntime-web 1.30 and onnxruntime 1.18+ read
    for key, value in props.items():
        proto.metadata_props.add(key=key, value=value)
    onnx.checker.check_model(proto)
    return proto


def quantize(src, dst):
    """The fp32 model file `src` as a row-wise int8 model file `dst` (same metadata, quantization int8)."""
    from poemnet.common.atomic import write_bytes_atomic

    proto = onnx.load(str(src))
    props = {p.key: p.value for p in proto.metadata_props}
    write_bytes_atomic(dst, build(weights_from_onnx(proto), {**props, "quantization": "int8"}).SerializeToString())
