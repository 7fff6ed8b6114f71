"""PoemLSTM: Embedding -> 2-layer LSTM -> Linear, with a one-token `step` for generation and export."""

import functools

import torch
import torch.nn as nn

from poemnet.generation.generate import zero_state


class PoemLSTM(nn.Module):
    def __init__(self, vocab_size, embedding_dim=256, hidden_dim=512, num_layers=2, dropout=0.0):
        super().__init__()
        self.vocab_size, self.hidden_dim, self.num_layers = vocab_size, hidden_dim, num_layers
        self.embed = nn.Embedding(vocab_size, embedding_dim)
        self.lstm = nn.LSTM(
            embedding_dim,
            hidden_dim,
            num_layers=num_layers,
            batch_first=True,
            dropout=dropout if num_layers > 1 else 0.0,
        )
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(hidden_dim, vocab_size)
        self.lstm_fp32 = False  # run the LSTM outside autocast in fp32: see poemnet/precision.py

    def _lstm(self, x, state=None):
        if self.lstm_fp32 and torch.is_autocast_enabled(x.device.type):
            with torch.autocast(x.device.type, enabled=False):
                out, state = self.lstm(x.float(), None if state is None else tuple(s.float() for s in state))
            return out, state
        return self.lstm(x, state)

    def init_state(self, batch_size):
        """Zero (h, c), each [num_layers, B, hidden], on the weights' device and dtype."""
        w = self.head.weight
        shape = (self.num_layers, batch_size, self.hidden_dim)
        return w.new_zeros(shape), w.new_zeros(shape)

    def forward(self, tokens):
        """tokens [B, T] -> logits [B, T, V], from the zero state."""
        out, _ = self._lstm(self.drop(self.embed(tokens)))
        return self.head(self.drop(out))

    def step(self, tokens, h, c):
        """One token per row: tokens [B], h and c [L, B, H] -> (logits [B, V], h, c)."""
        out, (h, c) = self._lstm(self.drop(self.embed(tokens[:, None])), (h, c))
        return self.head(self.drop(out[:, 0])), h, c

    @classmethod
    def from_config(cls, model_config, vocab_size):
        m = model_config
        return cls(vocab_size, m.embedding_dim, m.hidden_dim, m.num_layers, m.dropout)


class StepModule(nn.Module):
    """`PoemLSTM.step` as a module's forward: the graph that export.py turns into ONNX."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, tokens, h, c):
        return self.model.step(tokens, h, c)


def numpy_step_fn(model):
    """Wrap `model.step` as numpy in, numpy out: the signature poemnet.generation.generate expects."""
    device = model.head.weight.device

    @torch.inference_mode()
    def step(tokens, h, c):
        logits, h, c = model.step(
            torch.as_tensor(tokens, device=device), torch.as_tensor(h, device=device), torch.as_tensor(c, device=device)
        )
        return logits.float().cpu().numpy(), h.float().cpu().numpy(), c.float().cpu().numpy()

    return step, functools.partial(zero_state, model.num_layers, model.hidden_dim)
