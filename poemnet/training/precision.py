"""The LSTM's compute dtype as PoemNet's decision, not a side effect of autocast.

On CUDA, PyTorch's autocast wrapper for cuDNN RNNs casts the LSTM to fp16 whatever dtype autocast
was asked for, so `mixed_precision: bf16` could run the LSTM in fp16 with no loss scaler. We run
one forward and backward under the run's autocast, read the dtypes the LSTM and the head really
produced, and when the LSTM's differs from the one asked for, run it outside autocast in fp32
(TF32 where the GPU has it) while embedding and head keep the requested precision.
"""

import torch

WANTED = {"no": "float32", "bf16": "bfloat16", "fp16": "float16"}


def dtypes_seen(model, autocast, tokens):
    """{'lstm': dtype name, 'head': dtype name} from one forward+backward of `tokens` under `autocast`."""
    seen, hooks = {}, []
    for name, module in [*(("lstm", layer) for layer in model.lstm), ("head", model.head)]:  # first layer's dtype

        def hook(_module, _inputs, output, name=name):
            out = output[0] if isinstance(output, tuple) else output
            seen.setdefault(name, str(out.dtype).removeprefix("torch."))

        hooks.append(module.register_forward_hook(hook))
    was_training = model.training
    model.eval()  # no dropout: the probe must not consume random numbers
    try:
        with autocast():
            logits = model(tokens)
        logits.float().mean().backward()
    finally:
        for h in hooks:
            h.remove()
        model.zero_grad(set_to_none=True)
        model.train(was_training)
    return seen


def lstm_needs_fp32(precision, lstm_dtype):
    """True when autocast would run the LSTM in another dtype than the run asked for."""
    return lstm_dtype != WANTED[precision]


def decide(model, autocast, tokens, precision):
    """Probe, set model.lstm_fp32 if needed, probe again; returns the record for logs and metrics.json."""
    before = dtypes_seen(model, autocast, tokens)
    model.lstm_fp32 = lstm_needs_fp32(precision, before["lstm"])
    after = dtypes_seen(model, autocast, tokens) if model.lstm_fp32 else before
    return {
        "requested": precision,
        "autocast_lstm_dtype": before["lstm"],
        "lstm_outside_autocast": model.lstm_fp32,
        "lstm_dtype": after["lstm"],
        "head_dtype": after["head"],
        "tf32": bool(torch.backends.cuda.matmul.allow_tf32) if torch.cuda.is_available() else False,
    }
