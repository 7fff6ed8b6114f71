"""Write classical Chinese poems with an exported PoemNet model: onnxruntime and numpy only.

The project's promised entry point, the same command as `poemnet write` (poemnet/generation/command.py):

python infer.py --start 月
python infer.py --acrostic 春夏秋冬 --n 3 --seed 7
python infer.py --model runs/base/poemnet-int8.onnx --form 五绝 --json
python infer.py --form 七律 --rhyme --tones --no-repeat --novel   # regulated verse for real
python infer.py --rhyme 东 --tones --template 平起首句入韵 --script traditional
"""

from pathlib import Path

from poemnet.common.errors import run_cli
from poemnet.generation import command

ROOT = Path(__file__).resolve().parent  # runs/ beside infer.py holds your exports


def main(argv=None):
    return command.main(argv, prog="python infer.py", root=ROOT)


if __name__ == "__main__":
    run_cli(main, fast_exit=True)
