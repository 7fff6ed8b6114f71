"""Re-make the shipped int8 model in the row-wise int8 format from its own weights.

    python scripts/requantize_release.py [--corpus data/poems.jsonl.gz]

The previous release file quantized activations over the whole batch (DynamicQuantizeLSTM), so a
poem depended on its neighbours. Its int8 weights are read back (training/int8.py
weights_from_dynamic_int8) and written again with activations quantized per row: the same 8-bit
weights, the same metadata, plus the 对仗 pairs of the training corpus's 律诗 (for --parallel).
A release trained afresh gets the same format from `export.py --quantize int8`.
"""

import argparse
import json
import sys
from pathlib import Path

import onnx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from poemnet.common import corpus  # noqa: E402
from poemnet.common.atomic import write_bytes_atomic  # noqa: E402
from poemnet.common.couplets import PairTable  # noqa: E402
from poemnet.generation.model_choice import SHIPPED_MODEL  # noqa: E402
from poemnet.training import int8  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, default=SHIPPED_MODEL)
    parser.add_argument("--corpus", default=str(ROOT / "data" / "poems.jsonl.gz"), help="the release's training corpus")
    args = parser.parse_args()
    proto = onnx.load(str(args.model))
    props = {p.key: p.value for p in proto.metadata_props}
    if not any(n.op_type == "DynamicQuantizeLSTM" for n in proto.graph.node):
        sys.exit(f"error: {args.model} is not a batch-quantized int8 file: nothing to re-make")
    training = json.loads(props.get("training", "{}"))
    poems = corpus.load(args.corpus)
    train, _ = corpus.split(poems, training.get("val_fraction", 0.02))
    pairs = PairTable.from_poems(p.text for p in train).strongest()
    props["parallel"] = json.dumps(pairs, ensure_ascii=False, separators=(",", ":"))
    rebuilt = int8.build(int8.weights_from_dynamic_int8(proto), props)
    write_bytes_atomic(args.model, rebuilt.SerializeToString())
    print(f"wrote {args.model} ({args.model.stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
