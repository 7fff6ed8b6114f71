"""PoemNet: a character-level LSTM for classical Chinese regulated verse.

    import poemnet
    poems = poemnet.write(form="七律", start="月", rhyme=True, tones=True, seed=1, n=2)
    model = poemnet.PoemNet()        # load once, write many times

    poemnet/api.py       write, PoemNet, Poem (the Python API); poemnet/cli.py: the `poemnet` command
    poemnet/common/      the floor both wings stand on (no torch): forms, vocabulary, prosody, corpus
    poemnet/generation/  writing poems (no torch): the model file, rules, sampling, the loop, the runtime
    poemnet/training/    training and export (torch): config, model, batches, trainer, checkpoints
    poemnet/builders/    one-off builders of the shipped data from upstream packages
    poemnet/models/      the shipped release model (package data)

Importing the package imports nothing heavy: the API loads onnxruntime on first use.
"""

__all__ = ["Poem", "PoemNet", "UserError", "write"]


def __getattr__(name):
    if name in ("Poem", "PoemNet", "write"):
        from poemnet import api

        return getattr(api, name)
    if name == "UserError":
        from poemnet.common.errors import UserError

        return UserError
    raise AttributeError(f"module 'poemnet' has no attribute {name!r}")
