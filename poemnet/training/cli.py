"""`poemnet train` and `poemnet export` (and train_dist.py, export.py over the same functions).

Neither imports torch before its arguments are checked: a bad option is reported at once.
"""

import argparse
import os
import sys
from pathlib import Path

from poemnet.common.errors import UserError


def train(argv=None, prog=None):
    parser = argparse.ArgumentParser(prog=prog, description="Train PoemLSTM with accelerate.")
    parser.add_argument("--config", default="configs/base.yaml", help="YAML config (default: configs/base.yaml)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override, e.g. train.lr=3e-4")
    parser.add_argument("--resume", metavar="auto|PATH", help="auto: newest complete checkpoint in the run directory")
    parser.add_argument(
        "--stop-after", type=int, metavar="STEPS", help="checkpoint and stop after this many more steps"
    )
    args = parser.parse_args(argv)
    from poemnet.training.config import load_config

    cfg = load_config(args.config, args.set)
    from poemnet.training.trainer import train as run_training  # after the config is checked: torch loads slowly

    run_training(cfg, resume=args.resume, stop_after=args.stop_after)
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        # Every file is written and every rank has passed the last barrier. Skip the interpreter's
        # teardown: there gloo's threads now and then abort a rank ("terminate called without an
        # active exception"), which would turn a finished run into a failed one.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


def export(argv=None, prog=None):
    parser = argparse.ArgumentParser(prog=prog, description="Export a trained PoemNet model to one stepwise ONNX file.")
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
    ci_source = trained.cfg.data.ci_corpus  # the 词 the model learned: their lines join the filter
    if ci_source:
        texts += [p.text for p in corpus.load(corpus.resolve_ci(ci_source))]
    props = onnx_export.metadata(
        trained.model,
        trained.vocab,
        trained.forms,
        trained.script,
        trained.weights_sha256,
        corpus_texts=texts,
        training={"corpus": source, "val_fraction": trained.cfg.data.val_fraction}
        | ({"ci_corpus": ci_source} if ci_source else {}),
    )
    onnx_export.export(trained.model, props, out)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB)")
    if args.quantize:
        int8 = out.with_name(out.stem + "-int8.onnx")
        onnx_export.quantize_int8(out, int8)
        products = onnx_export.count_ops(int8).get("MatMulInteger", 0)
        print(f"wrote {int8} ({int8.stat().st_size / 1e6:.1f} MB, {products} integer matrix products)")
