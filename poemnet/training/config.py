"""One config tree (data, model, train, output) loaded from YAML, with `--set a.b=c` overrides.

Unknown keys, wrong types and impossible values are UserErrors raised before anything runs.
"""

import dataclasses
import math
import re
import typing
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from poemnet.common.errors import UserError
from poemnet.common.forms import FORMS


@dataclass
class DataConfig:
    corpus: str = "embedded"  # "embedded" (the packaged 五绝 corpus) or a file from `poemnet.builders.corpus build`
    forms: list = field(default_factory=list)  # forms to train on; empty = every form in the corpus
    min_count: int = 2  # characters seen fewer times become <unk>
    val_fraction: float = 0.05  # share of poems (chosen by a hash of the text) held out for validation
    title_share: float = 0.0  # share of training rows given their title; 0 = the model knows no titles
    ci_corpus: typing.Optional[str] = None  # 词 beside the 诗: "embedded" (the packaged 宋词), a file, or null
    ci_forms: list = field(default_factory=list)  # 词牌 to train on; empty = every supported 词牌 in ci_corpus

    def validate(self):
        from poemnet.common.form_data import form_named

        _check(all(f in FORMS for f in self.forms), f"data.forms: each must be one of {list(FORMS)}")
        unknown = [f for f in self.ci_forms if not isinstance(f, str) or getattr(form_named(f), "kind", None) != "词"]
        _check(
            not unknown,
            f"data.ci_forms: {(unknown or [''])[0]} is not a supported 词牌 (`poemnet list cipai` shows them)",
        )
        _check(not self.ci_forms or self.ci_corpus, "data.ci_forms names 词牌 to train: set data.ci_corpus too")
        _check(self.min_count >= 1, "data.min_count must be >= 1")
        _check(0.0 < self.val_fraction < 0.5, "data.val_fraction must be in (0, 0.5)")
        _check(0.0 <= self.title_share <= 1.0, "data.title_share must be in [0, 1]")


@dataclass
class ModelConfig:
    embedding_dim: int = 256
    hidden_dim: int = 512
    num_layers: int = 2
    dropout: float = 0.1

    def validate(self):
        _check(self.embedding_dim >= 1 and self.hidden_dim >= 1, "model dimensions must be >= 1")
        _check(self.num_layers >= 1, "model.num_layers must be >= 1")
        _check(0.0 <= self.dropout < 1.0, "model.dropout must be in [0, 1)")


@dataclass
class TrainConfig:
    seed: int = 1337
    batch_size: int = 64  # poems per device per micro-batch
    grad_accum_steps: int = 1
    epochs: int = 1
    max_steps: int = 0  # optimizer steps; 0 = run `epochs` epochs
    lr: float = 3e-3
    min_lr: float = 3e-4  # the cosine decay ends here
    warmup_steps: int = 50
    weight_decay: float = 0.01
    grad_clip: float = 1.0  # max global gradient norm; 0 = off
    mixed_precision: typing.Optional[str] = None  # no | bf16 | fp16; null = what the launcher says
    tf32: bool = True  # TF32 for fp32 matmuls and cuDNN on GPUs that have it (ignored elsewhere)
    log_every: int = 10
    eval_every: int = 200  # optimizer steps between validations (and at the end)
    ckpt_every: int = 200  # optimizer steps between checkpoints (and at the end)
    keep_last: int = 2  # checkpoints kept on disk
    num_samples: int = 2  # poems printed at each validation
    dist_timeout_s: int = 600  # a collective or rendezvous that waits longer ends the run with an error

    def validate(self):
        _check(
            self.batch_size >= 1 and self.grad_accum_steps >= 1, "train.batch_size and grad_accum_steps must be >= 1"
        )
        _check(self.epochs >= 1 and self.max_steps >= 0, "train.epochs must be >= 1 and max_steps >= 0")
        _check(self.lr > 0 and 0 <= self.min_lr <= self.lr, "train.lr must be > 0 and 0 <= min_lr <= lr")
        _check(
            self.warmup_steps >= 0 and self.weight_decay >= 0 and self.grad_clip >= 0,
            "train.warmup_steps, weight_decay and grad_clip must be >= 0",
        )
        _check(
            self.mixed_precision in (None, "no", "bf16", "fp16"), "train.mixed_precision must be no, bf16, fp16 or null"
        )
        _check(
            min(self.log_every, self.eval_every, self.ckpt_every, self.keep_last) >= 1,
            "train.log_every, eval_every, ckpt_every and keep_last must be >= 1",
        )
        _check(self.num_samples >= 0, "train.num_samples must be >= 0")
        _check(0 <= self.seed < 2**32, "train.seed must be in [0, 2**32)")
        _check(self.dist_timeout_s >= 1, "train.dist_timeout_s must be >= 1")


@dataclass
class OutputConfig:
    dir: str = "runs/base"  # run directory: checkpoints/, final/, metrics.jsonl, config.yaml
    tensorboard: bool = True  # log scalars to <dir>/tensorboard

    def validate(self):
        _check(bool(self.dir), "output.dir must not be empty")


@dataclass
class Config:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    output: OutputConfig = field(default_factory=OutputConfig)

    def validate(self):
        for section in (self.data, self.model, self.train, self.output):
            section.validate()
        return self


def _check(ok, message):
    if not ok:
        raise UserError(message)


_DECIMAL = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?", re.ASCII)


def _coerce(value, hint, key):
    """Check `value` against the field's type; ints are accepted where floats are expected."""
    optional = typing.get_origin(hint) is typing.Union and type(None) in typing.get_args(hint)
    if optional:
        if value is None:
            return None
        hint = next(a for a in typing.get_args(hint) if a is not type(None))
    if key.endswith("mixed_precision") and value is False:
        return "no"  # YAML 1.1 reads a bare `no` as false: accelerate's spelling must still work
    if hint is str and isinstance(value, bool):
        raise UserError(f"{key} must be a string; YAML read {value!r}: put the value in quotes")
    if hint is float:
        return _finite_float(value, key)
    if hint is list and isinstance(value, list):
        return value
    if isinstance(value, hint) and not (hint is int and isinstance(value, bool)):
        return value
    raise UserError(f"{key} must be {hint.__name__}, got {type(value).__name__} {value!r}")


def _finite_float(value, key):
    """A float field takes ints and, since YAML 1.1 reads 3e-4 (no dot) as a string, decimal
    strings too; never inf or nan, which no setting means."""
    if isinstance(value, str) and _DECIMAL.fullmatch(value):
        value = float(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise UserError(f"{key} must be float, got {type(value).__name__} {value!r}")
    try:
        number = float(value)  # an int of 400 digits overflows here
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        raise UserError(f"{key} must be a finite number, got {value!r}")
    return number


def _from_dict(cls, raw, prefix):
    if not isinstance(raw, dict):
        raise UserError(f"{prefix or 'config'} must be a mapping, got {type(raw).__name__}")
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise UserError(f"unknown config key {prefix}{unknown[0]}: known keys are {sorted(known)}")
    values = {}
    for name, value in raw.items():
        hint = hints[name]
        if dataclasses.is_dataclass(hint):
            values[name] = _from_dict(hint, value, f"{prefix}{name}.")
        else:
            values[name] = _coerce(value, hint, prefix + name)
    return cls(**values)


def _apply_override(raw, assignment):
    if "=" not in assignment:
        raise UserError(f"--set {assignment!r} must look like section.key=value, e.g. train.lr=3e-4")
    dotted, text = assignment.split("=", 1)
    keys = dotted.split(".")
    node = raw
    for key in keys[:-1]:
        node = node.setdefault(key, {})
        if not isinstance(node, dict):
            raise UserError(f"--set {dotted}: {key} is not a section")
    node[keys[-1]] = yaml.safe_load(text) if text else ""


def load_config(path=None, overrides=()):
    """Read YAML (or the defaults), apply `section.key=value` overrides, validate."""
    raw = {}
    if path:
        try:
            raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        except FileNotFoundError:
            raise UserError(f"config {path} not found: pass one of configs/*.yaml")
        except yaml.YAMLError as e:
            raise UserError(f"config {path} is not valid YAML: {str(e).splitlines()[0]}")
        except UnicodeDecodeError as e:
            raise UserError(f"config {path} is not UTF-8 text ({e.reason} at byte {e.start}): save it as UTF-8")
        except IsADirectoryError:
            raise UserError(f"config {path} is a folder: pass one of configs/*.yaml")
    for assignment in overrides:
        _apply_override(raw, assignment)
    return _from_dict(Config, raw, "").validate()


def to_dict(config):
    return dataclasses.asdict(config)


def flatten(config):
    """{'train.lr': 0.003, ...} with lists as strings: TensorBoard's hparams take scalars only."""
    flat = {}
    for section, values in to_dict(config).items():
        for key, value in values.items():
            flat[f"{section}.{key}"] = value if isinstance(value, (int, float, str, bool)) else str(value)
    return flat


def save_config(config, path):
    from poemnet.common.atomic import write_text_atomic

    write_text_atomic(path, yaml.safe_dump(to_dict(config), allow_unicode=True, sort_keys=False))
