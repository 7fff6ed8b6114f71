"""PoemNet: a character-level LSTM for classical Chinese regulated verse.

    poemnet/common/      the floor both wings stand on (no torch): forms, vocabulary, prosody, corpus
    poemnet/generation/  writing poems (no torch): the model file, rules, sampling, the loop, the runtime
    poemnet/training/    training and export (torch): config, model, batches, trainer, checkpoints
    poemnet/builders/    one-off builders of the shipped data from upstream packages

Importing the package imports nothing heavy.
"""
