"""The `poemnet` command (also `python -m poemnet`): one subcommand per thing a user does.

    poemnet write --start 月             write poems (infer.py's options)
    poemnet list                         forms, 平仄 templates, 平水韵 rhyme groups
    poemnet evaluate --n 20              how regulated a model's poems are
    poemnet train | export               with the train extra (PyTorch): pip install 'poemnet[train]'
    poemnet corpus build | stats         the corpus file

Each subcommand parses its own options; this module imports none of them until one is chosen,
and never torch unless `train` or `export` is.
"""

import importlib
import importlib.util
import sys

from poemnet.common.errors import UserError, run_cli
from poemnet.generation.output import utf8_streams

# name: (module, function, what it does, needs the train extra)
COMMANDS = {
    "write": ("poemnet.generation.command", "main", "write poems (the options of infer.py)", False),
    "list": ("poemnet.generation.listing", "main", "the forms, their 平仄 templates, the 平水韵 rhyme groups", False),
    "evaluate": ("poemnet.evaluate", "main", "measure how regulated a model's poems are", False),
    "train": ("poemnet.training.cli", "train", "train a model (train extra)", True),
    "export": ("poemnet.training.cli", "export", "export a trained model to ONNX (train extra)", True),
    "corpus": ("poemnet.builders.corpus", "main", "build a corpus file or count one", False),
}
TRAIN_EXTRA = {"torch", "accelerate", "onnx", "onnxscript", "yaml", "safetensors", "tqdm", "tensorboard"}


def usage():
    lines = ["usage: poemnet COMMAND [options]   (poemnet COMMAND --help for its options)", "", "commands:"]
    lines += [f"  {name:<9} {what}" for name, (_, _, what, _) in COMMANDS.items()]
    return "\n".join(lines)


def main(argv=None):
    utf8_streams()
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv:
        raise UserError(f"name a command: {', '.join(COMMANDS)} (see poemnet --help)")
    if argv[0] in ("-h", "--help"):
        print(usage())
        return 0
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        raise UserError(f"{name!r} is not a poemnet command: choose from {', '.join(COMMANDS)} (see poemnet --help)")
    module, function, _, needs_torch = COMMANDS[name]
    if needs_torch and importlib.util.find_spec("torch") is None:
        raise UserError(f"poemnet {name} needs PyTorch, which is not installed: pip install 'poemnet[train]'")
    try:
        run = getattr(importlib.import_module(module), function)
        return run(rest, prog=f"poemnet {name}")
    except ModuleNotFoundError as e:
        if (e.name or "").split(".")[0] not in TRAIN_EXTRA:
            raise
        raise UserError(f"poemnet {name} needs {e.name}, part of the train extra: pip install 'poemnet[train]'")


def entry():
    """The console script."""
    run_cli(main, fast_exit=sys.argv[1:2] in (["write"], ["list"]))  # skip onnxruntime's teardown
