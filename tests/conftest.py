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
    return subprocess.run([sys.executable, *map(str, args)], capture_output=True, text=True,
                          env=full_env, timeout=timeout, cwd=cwd)


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
    from poemnet.config import load_config
    from poemnet.trainer import train
    run_dir = tmp_path_factory.mktemp("tiny_run")
    cfg = load_config(ROOT / "configs" / "tiny.yaml", [f"output.dir={run_dir}", "train.max_steps=120", "train.num_samples=0"])
    final = train(cfg)
    return run_dir, final
