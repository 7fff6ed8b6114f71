"""Checkpoints without pickles, written so that a kill at any moment leaves only complete ones.

A checkpoint is a folder `step-NNNNNNN/` holding model.safetensors, optimizer.safetensors +
optimizer.json, one rng-rankR.safetensors per process, trainer.json, and last a manifest
checkpoint.json with every file's size and sha256. It is written as `.partial-step-N/` and
renamed when complete; on resume, folders whose files do not match their manifest are skipped.
"""

import hashlib
import json
import os
import re
import shutil
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from poemnet.common.atomic import write_text_atomic
from poemnet.common.errors import UserError
from poemnet.training import ranks

MANIFEST = "checkpoint.json"
_STEP_DIR = re.compile(r"^step-(\d+)$")


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def optimizer_to_files(state_dict):
    """Split an optimizer state_dict into tensors (safetensors) and the rest (JSON)."""
    tensors, plain = {}, {}
    for param_id, state in state_dict["state"].items():
        for key, value in state.items():
            if torch.is_tensor(value):
                tensors[f"{param_id}.{key}"] = value.detach().cpu().contiguous()
            else:
                plain.setdefault(str(param_id), {})[key] = value
    return tensors, {"param_groups": state_dict["param_groups"], "plain_state": plain}


def optimizer_from_files(tensors, meta):
    state = {}
    for name, value in tensors.items():
        param_id, key = name.split(".", 1)
        state.setdefault(int(param_id), {})[key] = value
    for param_id, values in meta["plain_state"].items():
        state.setdefault(int(param_id), {}).update(values)
    return {"state": state, "param_groups": meta["param_groups"]}


def rng_state():
    state = {"torch_cpu": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["torch_cuda"] = torch.cuda.get_rng_state()
    return state


def set_rng_state(state):
    torch.set_rng_state(state["torch_cpu"])
    if "torch_cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state(state["torch_cuda"])


def partial_dir(root, step):
    return Path(root) / f".partial-step-{step:07d}"


def fresh_partial_dir(root, step):
    """Rank 0, before any rank writes: an empty .partial-step-N (a killed run may have left files there)."""
    folder = partial_dir(root, step)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


def abandon_later(root, resumed, warn):
    """Rank 0, once an explicitly named older checkpoint `resumed` is restored: move the newer ones
    to abandoned/, so that pruning keeps the new lineage and --resume auto never jumps back to the
    old branch. Only after the restore: a refused resume must leave them where they were."""
    step = step_of(resumed)
    for folder in list_checkpoints(root):
        if int(_STEP_DIR.match(folder.name).group(1)) > step:
            target = Path(root) / "abandoned" / folder.name
            shutil.rmtree(target, ignore_errors=True)
            target.parent.mkdir(exist_ok=True)
            os.replace(folder, target)
            warn(
                f"note: {folder.name} is newer than {Path(resumed).name}: moved to {target.parent} so the new run replaces it"
            )


def write_rank_files(folder, rank, model_state=None, optimizer_state=None, extra=None):
    """Every rank writes its RNG state; rank 0 also writes the model, optimizer and trainer state."""
    save_file(rng_state(), folder / f"rng-rank{rank}.safetensors")
    if rank == 0:
        save_file({k: v.detach().cpu().contiguous() for k, v in model_state.items()}, folder / "model.safetensors")
        tensors, meta = optimizer_to_files(optimizer_state)
        save_file(tensors, folder / "optimizer.safetensors")
        write_text_atomic(folder / "optimizer.json", json.dumps(meta))
        write_text_atomic(folder / "trainer.json", json.dumps(extra))


def seal(root, step, keep_last):
    """Rank 0, after every rank has written: add the manifest, rename into place, prune old ones."""
    folder = partial_dir(root, step)
    files = {p.name: {"bytes": p.stat().st_size, "sha256": _sha256(p)} for p in sorted(folder.iterdir())}
    write_text_atomic(folder / MANIFEST, json.dumps({"step": step, "files": files}, indent=1))
    final = Path(root) / f"step-{step:07d}"
    if final.exists():
        shutil.rmtree(final)
    os.replace(folder, final)
    for stale in Path(root).glob(".partial-step-*"):  # left by a run killed while writing
        shutil.rmtree(stale, ignore_errors=True)
    for old in list_checkpoints(root)[:-keep_last]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def list_checkpoints(root):
    """Sealed checkpoint folders, oldest first (not yet verified)."""
    root = Path(root)
    if not root.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in root.iterdir() if (m := _STEP_DIR.match(p.name)) and p.is_dir()]
    return [p for _, p in sorted(found)]


def verify(folder):
    """None if every file matches the manifest, else why not."""
    try:
        manifest = json.loads((Path(folder) / MANIFEST).read_text())
        for name, expected in manifest["files"].items():
            path = Path(folder) / name
            if not path.is_file() or path.stat().st_size != expected["bytes"] or _sha256(path) != expected["sha256"]:
                return f"{name} is missing or changed"
    except (OSError, ValueError, KeyError, TypeError) as e:
        return f"manifest unreadable ({e})"
    return None


def latest_valid(root, warn=print):
    """The newest checkpoint that verifies; damaged ones are reported and skipped."""
    for folder in reversed(list_checkpoints(root)):
        problem = verify(folder)
        if problem is None:
            return folder
        warn(f"warning: skipping damaged checkpoint {folder}: {problem}")
    return None


def resolve_resume(resume, root, warn=print):
    """--resume auto -> newest valid checkpoint or None; --resume PATH -> PATH, which must verify."""
    if not resume:
        return None
    if resume == "auto":
        return latest_valid(root, warn)
    problem = verify(resume)
    if problem:
        raise UserError(
            f"cannot resume from {resume}: {problem}; use --resume auto to pick the newest complete checkpoint"
        )
    return Path(resume)


def step_of(folder):
    return json.loads((Path(folder) / "trainer.json").read_text())["step"]


def read(folder, rank):
    """(model state, optimizer state, rng state of this rank, trainer.json) from a verified folder."""
    folder = Path(folder)
    rng_file = folder / f"rng-rank{rank}.safetensors"
    extra = json.loads((folder / "trainer.json").read_text())
    if not rng_file.exists():
        raise UserError(f"{folder} was written by {extra['world_size']} processes: resume with that many")
    optimizer = optimizer_from_files(
        load_file(folder / "optimizer.safetensors"), json.loads((folder / "optimizer.json").read_text())
    )
    return load_file(folder / "model.safetensors"), optimizer, load_file(rng_file), extra


# ---- the run folder: start, resume, refuse, abandon ------------------------------------------


def start_folder(run_dir, resume, warn):
    """Rank 0: the checkpoint to resume from (or None), refusing to overwrite an earlier run; then
    the run folder. The run's config.yaml (and abandon_later) wait until the checkpoint has been
    restored: a refused resume leaves the folder as it was."""
    root = Path(run_dir) / "checkpoints"
    folder = resolve_resume(resume, root, warn=warn)
    if folder is None and not resume and list_checkpoints(root):
        raise UserError(
            f"{root} holds checkpoints of an earlier run: pass --resume auto to continue it, "
            "or set output.dir to a new folder"
        )
    Path(run_dir).mkdir(parents=True, exist_ok=True)
    return folder


# ---- one training state in and out, with every rank ----------------------------------------


def save(acc, model, optimizer, root, state, keep_last):
    """Write a checkpoint of the run at state["step"] with every rank (see ranks.py); `state` is
    the trainer's JSON-ready counters. Refuses non-finite weights: a checkpoint is always usable."""
    step, rank = state["step"], acc.process_index
    if not all(torch.isfinite(p).all() for p in acc.unwrap_model(model).parameters()):
        raise NonFiniteWeights(
            f"the weights are not finite at step {step}: no checkpoint written; "
            "resume from the last one with a lower train.lr"
        )
    folder = ranks.main_only(acc, lambda: fresh_partial_dir(root, step))
    extra = {
        **state,
        "world_size": acc.num_processes,
        "scaler": acc.scaler.state_dict() if acc.scaler is not None else None,
    }
    model_state = acc.unwrap_model(model).state_dict() if rank == 0 else None
    optimizer_state = optimizer.state_dict() if rank == 0 else None
    ranks.same_outcome(acc, lambda: write_rank_files(folder, rank, model_state, optimizer_state, extra))
    ranks.main_only(acc, lambda: seal(root, step, keep_last))


def restore(acc, model, optimizer, folder, global_batch, batch_fingerprint):
    """Load a checkpoint into the model, optimizer, scaler and random state; returns trainer.json.
    `batch_fingerprint(step)` digests the global batch this run would train at `step`: it must be
    the one the checkpointed run would have trained next, or the resume would not be exact."""
    model_state, optimizer_state, rng, extra = read(folder, acc.process_index)
    if extra["world_size"] != acc.num_processes or extra["global_batch"] != global_batch:
        raise UserError(
            f"{folder} was written by {extra['world_size']} processes with global batch "
            f"{extra['global_batch']}: resume with the same launcher and train.batch_size"
        )
    if "next_batch" in extra and extra["next_batch"] != batch_fingerprint(extra["step"]):
        raise UserError(
            f"{folder} would go on with other poems than this run trains at step {extra['step']}: "
            "the corpus, data settings, train.seed or PoemNet's batch order changed since it was written; "
            "resume with those unchanged, or set output.dir to start a new run"
        )
    try:
        acc.unwrap_model(model).load_state_dict(model_state)
    except RuntimeError as e:
        raise UserError(
            f"{folder} does not fit this config's model ({str(e).splitlines()[-1].strip()[:100]}): "
            "resume with the config it was trained with"
        )
    optimizer.load_state_dict(optimizer_state)
    if extra["scaler"] is not None and acc.scaler is not None:
        acc.scaler.load_state_dict(extra["scaler"])
    set_rng_state(rng)
    return extra


class NonFiniteWeights(UserError):
    pass
