"""PoemLSTM: Embedding -> stacked LSTM layers -> Linear, with a one-token `step` for generation and export.

Dropout (on the embeddings, between the LSTM layers and before the output layer) is applied here,
with masks drawn per poem: row i of a batch takes every mask from its own seed, `row_seeds[i]`,
which the trainer derives from (train.seed, step, the row's place in the global batch). So a
poem's masks do not depend on the rank or micro-batch it lands in, and a resumed run draws the
masks the uninterrupted run drew. The layers are separate one-layer nn.LSTMs because a stacked
nn.LSTM applies the between-layer dropout inside cuDNN, from a dropout state no checkpoint holds.
"""

import functools
import re

import torch
import torch.nn as nn

from poemnet.generation.generate import zero_state

# Before the layers were separate modules, state dicts named them lstm.weight_ih_l1 etc.
_STACKED_KEY = re.compile(r"lstm\.(weight_ih|weight_hh|bias_ih|bias_hh)_l(\d+)")


def _rename_stacked_lstm_keys(module, state_dict, prefix, *_):
    """Load files written with one stacked nn.LSTM (the shipped model's artifact among them):
    lstm.weight_ih_l1 -> lstm.1.weight_ih_l0. The parameter order is the same, so optimizer
    states of such checkpoints still match."""
    for key in list(state_dict):
        found = _STACKED_KEY.fullmatch(key[len(prefix) :]) if key.startswith(prefix) else None
        if found:
            state_dict[f"{prefix}lstm.{found[2]}.{found[1]}_l0"] = state_dict.pop(key)


def dropout_masks(row_seeds, steps, widths, p, device):
    """Keep-masks (bool [B, steps, width], one per entry of `widths`), row i drawn from row_seeds[i]
    alone (a 64-bit integer; the CPU generator uses its low 32 bits)."""
    generator = torch.Generator(device)
    rows = []
    for seed in row_seeds:
        generator.manual_seed(int(seed))
        rows.append(torch.rand(steps, sum(widths), generator=generator, device=device) >= p)
    return torch.stack(rows).split(widths, dim=-1)


class PoemLSTM(nn.Module):
    def __init__(self, vocab_size, embedding_dim=256, hidden_dim=512, num_layers=2, dropout=0.0):
        super().__init__()
        self.vocab_size, self.hidden_dim, self.num_layers = vocab_size, hidden_dim, num_layers
        self.dropout = dropout
        self.embed = nn.Embedding(vocab_size, embedding_dim)
        self.lstm = nn.ModuleList(
            nn.LSTM(embedding_dim if i == 0 else hidden_dim, hidden_dim, batch_first=True) for i in range(num_layers)
        )
        self.head = nn.Linear(hidden_dim, vocab_size)
        self.lstm_fp32 = False  # run the LSTM outside autocast in fp32: see poemnet/training/precision.py
        self.register_load_state_dict_pre_hook(_rename_stacked_lstm_keys)

    def _run(self, lstm, x, state=None):
        if self.lstm_fp32 and torch.is_autocast_enabled(x.device.type):
            with torch.autocast(x.device.type, enabled=False):
                return lstm(x.float(), None if state is None else tuple(s.float() for s in state))
        return lstm(x, state)

    def init_state(self, batch_size):
        """Zero (h, c), each [num_layers, B, hidden], on the weights' device and dtype."""
        w = self.head.weight
        shape = (self.num_layers, batch_size, self.hidden_dim)
        return w.new_zeros(shape), w.new_zeros(shape)

    def _masks(self, tokens, row_seeds):
        """The dropout masks of this forward (None in eval mode or at dropout 0): one site before
        each LSTM layer and one before the output layer."""
        if not self.training or self.dropout == 0:
            return None
        if row_seeds is None:  # a caller without seeds: drawn from torch's generator, which checkpoints keep
            row_seeds = torch.randint(2**62, (tokens.size(0),)).tolist()
        if len(row_seeds) != tokens.size(0):
            raise ValueError(f"{len(row_seeds)} row seeds for a batch of {tokens.size(0)}")
        widths = [self.embed.embedding_dim] + [self.hidden_dim] * self.num_layers
        return dropout_masks(row_seeds, tokens.size(1), widths, self.dropout, tokens.device)

    def forward(self, tokens, row_seeds=None):
        """tokens [B, T] -> logits [B, T, V], from the zero state; row_seeds: see the module doc."""
        masks = self._masks(tokens, row_seeds)

        def drop(x, site):
            return x if masks is None else x * masks[site] / (1 - self.dropout)

        x = self.embed(tokens)
        for i, lstm in enumerate(self.lstm):
            x, _ = self._run(lstm, drop(x, i))
        return self.head(drop(x, self.num_layers))

    def step(self, tokens, h, c):
        """One token per row, never dropout (generation and export):
        tokens [B], h and c [L, B, H] -> (logits [B, V], h, c)."""
        x, hs, cs = self.embed(tokens[:, None]), [], []
        for i, lstm in enumerate(self.lstm):
            x, (h_i, c_i) = self._run(lstm, x, (h[i : i + 1], c[i : i + 1]))
            hs.append(h_i)
            cs.append(c_i)
        return self.head(x[:, 0]), torch.cat(hs), torch.cat(cs)

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
