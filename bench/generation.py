"""Per-poem generation latency: onnxruntime fp32 and int8 against the torch reference decoder.

    python bench/generation.py                       # runs/base: poemnet.onnx, poemnet-int8.onnx, final/
    python bench/generation.py --run-dir runs/tiny --poems 30

Prints medians in milliseconds and the ratios; numbers move 15-30% between runs on shared machines.
"""
import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from poemnet.sampling import Sampling  # noqa: E402
from poemnet.generate import generate, poem_rules  # noqa: E402
from poemnet.runtime import PoemModel, top1_agreement  # noqa: E402


def median_ms(step, zero_state, vocab, form, n, repeats):
    rules = poem_rules(vocab, form)
    times = []
    for seed in range(repeats):
        start = time.perf_counter()
        generate(step, zero_state, vocab, form, n, rules, Sampling(temperature=0.8, top_p=0.9), seed)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def int8_agreement(run, max_poems):
    """Share of validation positions where int8 and fp32 pick the same likeliest token (teacher forcing)."""
    from poemnet.config import load_config
    from poemnet.data import load_data
    fp32, int8 = PoemModel(run / "poemnet.onnx"), PoemModel(run / "poemnet-int8.onnx")
    counts = [top1_agreement(fp32, int8, tokens[:max_poems].numpy())
              for tokens in load_data(load_config(run / "final" / "config.yaml").data).val.values()]
    return sum(a for a, _ in counts) / sum(t for _, t in counts)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--run-dir", default="runs/base")
    parser.add_argument("--poems", type=int, default=50, help="repeats per measurement")
    parser.add_argument("--batch", type=int, default=64, help="batch size of the batched measurement")
    parser.add_argument("--val-poems", type=int, default=500, help="validation poems for the int8 agreement")
    args = parser.parse_args()
    run = Path(args.run_dir)
    rows = {}
    for name, path in (("onnx fp32", run / "poemnet.onnx"), ("onnx int8", run / "poemnet-int8.onnx")):
        model = PoemModel(path)
        form = model.forms[0]
        rows[name] = (median_ms(model.step, model.zero_state, model.vocab, form, 1, args.poems),
                      median_ms(model.step, model.zero_state, model.vocab, form, args.batch, max(3, args.poems // 10)),
                      path.stat().st_size / 1e6)
    import torch
    from poemnet.model import numpy_step_fn
    from poemnet.onnx_export import load_artifact
    model, vocab, *_ = load_artifact(run / "final")
    step, zero_state = numpy_step_fn(model)
    rows["torch eager"] = (median_ms(step, zero_state, vocab, form, 1, args.poems),
                           median_ms(step, zero_state, vocab, form, args.batch, max(3, args.poems // 10)),
                           (run / "final" / "model.safetensors").stat().st_size / 1e6)
    print(f"{form.name}, {args.poems} poems, torch threads {torch.get_num_threads()}")
    print(f"int8 vs fp32 top-1 agreement over validation tokens: {int8_agreement(run, args.val_poems):.4f}")
    print(f"{'':12} {'ms/poem (B=1)':>14} {f'ms/batch (B={args.batch})':>18} {'size MB':>8} {'speed-up vs torch (B=1)':>24}")
    base = rows["torch eager"][0]
    for name, (one, batch, size) in rows.items():
        print(f"{name:12} {one:14.1f} {batch:18.1f} {size:8.1f} {base / one:24.1f}x")


if __name__ == "__main__":
    main()
