"""The design's boundary: the generation wing and the common floor import without torch, without
accelerate and without the training wing; the floor imports neither wing."""

import subprocess
import sys

import pytest

from conftest import ROOT

WING_FREE_OF_TORCH = ["common", "generation"]


def modules(package):
    return sorted(f"poemnet.{package}.{p.stem}" for p in (ROOT / "poemnet" / package).glob("*.py"))


def import_blocked(module, blocked):
    """Import `module` in a fresh interpreter where each of `blocked` fails to import."""
    code = "import sys\n" + "".join(f"sys.modules[{b!r}] = None\n" for b in blocked) + f"import {module}\n"
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)


@pytest.mark.parametrize("module", [m for package in WING_FREE_OF_TORCH for m in modules(package)])
def test_the_torch_free_side_imports_with_torch_and_the_training_wing_blocked(module):
    result = import_blocked(module, ["torch", "accelerate", "safetensors", "poemnet.training"])
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("module", modules("common"))
def test_the_floor_imports_neither_wing(module):
    result = import_blocked(module, ["torch", "poemnet.training", "poemnet.generation"])
    assert result.returncode == 0, result.stderr


def test_every_package_module_is_in_a_wing_the_floor_or_the_builders():
    loose = {p.name for p in (ROOT / "poemnet").glob("*.py")} - {
        "__init__.py",
        "__main__.py",
        "evaluate.py",
        "api.py",
        "cli.py",
    }
    assert not loose, f"modules outside the layout: {sorted(loose)}"
