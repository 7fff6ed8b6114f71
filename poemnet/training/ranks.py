"""Decisions every rank of a distributed run shares, so that no rank waits for one that stopped.

A check that can fail on some ranks only (a checkpoint one machine cannot see, a disk full on
rank 0) runs inside `same_outcome`: every rank learns whether any failed, and all stop with the
first failure's message. Work for rank 0 alone runs inside `main_only`, which shares its result.
"""

from accelerate.utils import broadcast_object_list, gather_object

from poemnet.common.errors import UserError


def _failure(fn):
    try:
        return fn(), None
    except UserError as e:
        return None, str(e)
    except Exception as e:  # an unexpected error too must not leave the other ranks waiting
        return None, f"{type(e).__name__}: {e}"


def same_outcome(accelerator, fn):
    """fn() on every rank; if it failed on any, every rank raises that rank's message."""
    result, error = _failure(fn)
    errors = gather_object([error]) if accelerator.num_processes > 1 else [error]
    first = next((e for e in errors if e), None)
    if first:
        raise UserError(first)
    return result


def main_only(accelerator, fn):
    """fn() on rank 0 only; every rank returns its result, or raises its message."""
    result, error = _failure(fn) if accelerator.is_main_process else (None, None)
    if accelerator.num_processes > 1:
        result, error = broadcast_object_list([(result, error)])[0]
    if error:
        raise UserError(error)
    return result
