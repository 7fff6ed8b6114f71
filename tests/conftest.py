import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run_script(*args, env=None, timeout=300, cwd=ROOT):
    """Run a repo script with this interpreter; returns the CompletedProcess (never raises on exit code)."""
    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    full_env = {k: v for k, v in full_env.items() if v is not None}  # None removes a variable
    return subprocess.run(
        [sys.executable, *map(str, args)], capture_output=True, text=True, env=full_env, timeout=timeout, cwd=cwd
    )


def assert_clean_error(result, *fragments):
    """Exit code 2, one `error:` line naming the problem, no traceback."""
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    lines = [l for l in result.stderr.strip().splitlines() if l.startswith("error:")]
    assert len(lines) == 1, result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """The tiny config trained once for the session: (run dir, final artifact dir)."""
    from poemnet.training.config import load_config
    from poemnet.training.trainer import train

    run_dir = tmp_path_factory.mktemp("tiny_run")
    cfg = load_config(
        ROOT / "configs" / "tiny.yaml", [f"output.dir={run_dir}", "train.max_steps=120", "train.num_samples=0"]
    )
    final = train(cfg)
    return run_dir, final


@pytest.fixture(scope="session")
def tiny_onnx(tiny_run, tmp_path_factory):
    """The session's tiny model exported: (fp32 path, int8 path, final artifact dir)."""
    result = run_script(
        "export.py",
        "--artifact",
        tiny_run[1],
        "--out",
        tmp_path_factory.mktemp("onnx") / "tiny.onnx",
        "--quantize",
        "int8",
    )
    assert result.returncode == 0, result.stderr
    fp32 = Path(result.stdout.split("wrote ")[1].split(" (")[0])
    return fp32, fp32.with_name("tiny-int8.onnx"), tiny_run[1]


@pytest.fixture(scope="session")
def all_forms_onnx(tmp_path_factory):
    """Random weights with a vocabulary from the embedded corpus, declared to know all four forms:
    the format rules do not depend on training, so this checks every form's layout."""
    import torch

    from poemnet.common import corpus
    from poemnet.common.forms import FORMS
    from poemnet.common.vocab import Vocab
    from poemnet.training import onnx_export
    from poemnet.training.model import PoemLSTM

    torch.manual_seed(3)
    texts = [p.text for p in corpus.load()]
    vocab = Vocab.build(texts, min_count=50)
    model = PoemLSTM(len(vocab), 16, 32).eval()
    path = tmp_path_factory.mktemp("all_forms") / "all.onnx"
    props = onnx_export.metadata(model, vocab, list(FORMS), "simplified", "0" * 64, corpus_texts=texts)
    onnx_export.export(model, props, path)
    return path, model, vocab
