"""Export a trained PoemNet model to one stepwise ONNX file (and optionally an int8 copy).

python export.py                                   # runs/base/final -> runs/base/poemnet.onnx
python export.py --quantize int8                   # also runs/base/poemnet-int8.onnx
python export.py --artifact runs/tiny/final --out tiny.onnx

The same as `poemnet export` (poemnet/training/cli.py).
"""

from poemnet.common.errors import run_cli
from poemnet.training.cli import export as main

if __name__ == "__main__":
    run_cli(main)
