"""Export a trained PoemNet model to one stepwise ONNX file (and optionally an int8 copy).

python export.py                                   # runs/base/final -> runs/base/poemnet.onnx
python export.py --quantize int8                   # also runs/base/poemnet-int8.onnx
python export.py --artifact runs/tiny/final --out tiny.onnx
"""

import argparse
from pathlib import Path

from poemnet.common.errors import UserError, run_cli


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--artifact", default="runs/base/final", help="train_dist.py's final/ folder (default: runs/base/final)"
    )
    parser.add_argument("--out", help="ONNX file to write (default: poemnet.onnx beside the artifact folder)")
    parser.add_argument("--quantize", choices=["int8"], help="also write a dynamic-int8 copy, NAME-int8.onnx")
    parser.add_argument(
        "--corpus", help="corpus whose lines --novel avoids (default: the one the artifact was trained on)"
    )
    args = parser.parse_args(argv)
    artifact_dir = Path(args.artifact)
    if not artifact_dir.is_dir():
        raise UserError(f"artifact folder {artifact_dir} not found: train first (make demo) or pass --artifact")
    out = Path(args.out) if args.out else artifact_dir.parent / "poemnet.onnx"
    if out.suffix != ".onnx":
        raise UserError(f"--out {out} must end in .onnx")
    from poemnet.common import corpus
    from poemnet.training import artifact, onnx_export  # torch loads slowly: only after the arguments are checked

    trained = artifact.read(artifact_dir)
    source = args.corpus or trained.cfg.data.corpus
    try:
        texts = [p.text for p in corpus.load(source)]
    except UserError as e:
        raise UserError(f"{e} (export reads the training corpus for the --novel line filter; pass --corpus PATH)")
    props = onnx_export.metadata(
        trained.model,
        trained.vocab,
        trained.forms,
        trained.script,
        trained.weights_sha256,
        corpus_texts=texts,
        training={"corpus": source, "val_fraction": trained.cfg.data.val_fraction},
    )
    onnx_export.export(trained.model, props, out)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB)")
    if args.quantize:
        int8 = out.with_name(out.stem + "-int8.onnx")
        onnx_export.quantize_int8(out, int8)
        lstm = onnx_export.count_ops(int8).get("DynamicQuantizeLSTM", 0)
        print(f"wrote {int8} ({int8.stat().st_size / 1e6:.1f} MB, {lstm} quantized LSTM layers)")


if __name__ == "__main__":
    run_cli(main)
