"""The training artifact, `final/`: everything export needs, no pickles. Written and read here only.

final/model.safetensors   the weights, float32
final/config.yaml         the resolved config the model was trained with
final/vocab.json          the vocabulary
final/metrics.json        validation metrics, precision record, trained forms, script
"""

import hashlib
import json
import math
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from safetensors.torch import load_file, save_file

from poemnet.common.errors import UserError
from poemnet.common.vocab import Vocab
from poemnet.training.config import load_config, save_config
from poemnet.training.model import PoemLSTM

FILES = ("model.safetensors", "config.yaml", "vocab.json", "metrics.json")


@dataclass
class Artifact:
    model: PoemLSTM  # in eval mode
    vocab: Vocab
    metrics: dict
    weights_sha256: str
    cfg: object  # the Config tree

    @property
    def forms(self):
        return self.metrics["forms"]

    @property
    def script(self):
        return self.metrics.get("script", "simplified")


def finite_json(value):
    """JSON-ready: NaN and infinities (not JSON) become None."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: finite_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_json(v) for v in value]
    return value


def write(run_dir, model, cfg, vocab, metrics):
    """Write run_dir/final atomically (a partial folder renamed into place); returns its path."""
    final, partial = Path(run_dir) / "final", Path(run_dir) / ".partial-final"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    state = {k: v.detach().float().cpu().contiguous() for k, v in model.state_dict().items()}
    save_file(state, partial / "model.safetensors")
    save_config(cfg, partial / "config.yaml")
    vocab.save(partial / "vocab.json")
    text = json.dumps(finite_json(metrics), indent=1, ensure_ascii=False, allow_nan=False)
    (partial / "metrics.json").write_text(text, encoding="utf-8")
    if final.exists():
        shutil.rmtree(final)
    os.replace(partial, final)
    return final


def read(folder):
    """The Artifact in a final/ folder (the model in eval mode)."""
    folder = Path(folder)
    missing = [name for name in FILES if not (folder / name).is_file()]
    if missing:
        raise UserError(
            f"{folder} is not a training artifact (missing {', '.join(missing)}): train first with train_dist.py"
        )
    cfg = load_config(folder / "config.yaml")
    vocab = Vocab.load(folder / "vocab.json")
    metrics = json.loads((folder / "metrics.json").read_text(encoding="utf-8"))
    weights = folder / "model.safetensors"
    model = PoemLSTM.from_config(cfg.model, len(vocab))
    model.load_state_dict(load_file(weights))
    return Artifact(model.eval(), vocab, metrics, hashlib.sha256(weights.read_bytes()).hexdigest(), cfg)
