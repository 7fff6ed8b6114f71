"""PoemNet: a character-level LSTM for classical Chinese regulated verse.

Importing the package imports nothing heavy: `infer.py` uses the numpy-only modules
(forms, vocab, decoding, generate, runtime) in environments without torch.
"""
