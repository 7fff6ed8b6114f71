"""Which model file writes the poems: the one named, the newest export in a clone, or the shipped one.

The shipped release model is package data (poemnet/models/), so an installed wheel carries it.
Only a clone has runs/; there the newest export is the default, and the command falls back to the
shipped model, saying so, when that export cannot do what was asked.
"""

from pathlib import Path

from poemnet.common.errors import UserError

PACKAGE = Path(__file__).resolve().parents[1]
SHIPPED_MODEL = PACKAGE / "models" / "poemnet-release-int8.onnx"
SHIPPED = "shipped"  # --model shipped: the model inside the package, whatever runs/ holds


def clone_root():
    """The clone the package runs from (an editable install or the source tree), else None."""
    root = PACKAGE.parent
    return root if (root / "pyproject.toml").is_file() and (root / "infer.py").is_file() else None


def newest_export(root):
    """The newest runs/*/poemnet*.onnx under `root` (None when there is none or no root)."""
    if root is None:
        return None
    exported = sorted(Path(root).glob("runs/*/poemnet*.onnx"), key=lambda p: p.stat().st_mtime)
    return exported[-1] if exported else None


def default_model(root):
    """(path, source): the newest model you exported under root/runs, else the shipped release model."""
    export = newest_export(root)
    if export is not None:
        return export, "your newest export"
    return SHIPPED_MODEL, "the shipped release model"


def model_file(name, what="--model"):
    """The file `name` stands for: `shipped` is the packaged model; an empty name or a folder is an error."""
    if str(name) == SHIPPED:
        return SHIPPED_MODEL
    if not str(name).strip():
        raise UserError(f"{what} is empty: pass an .onnx file, `{SHIPPED}` for the shipped model, or leave it out")
    path = Path(name)
    if path.is_dir():
        inside = sorted(path.glob("*.onnx"))
        hint = f"e.g. {inside[0]}" if inside else "an .onnx file written by export.py"
        raise UserError(f"{what} {path} is a folder: pass a model file, {hint}")
    return path


def is_shipped(path):
    return Path(path).resolve() == SHIPPED_MODEL
