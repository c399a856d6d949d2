"""Training checkpoints in `WORKDIR/checkpoints`: orbax CheckpointManager around the whole `TrainState`.

orbax writes each step into a temporary directory and renames it when complete, so a run killed at any moment
(SIGKILL included) leaves only whole checkpoints plus, at worst, an ignored temporary directory; the run loses
at most the steps since the last save. Saving is synchronous: the state is donated to the next step, so its
buffers must be written before training continues.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import jax
import orbax.checkpoint as ocp

from esrgan_jax.compilation import release_freed_host_memory
from esrgan_jax.errors import UserError
from esrgan_jax.sharding import shapes
from esrgan_jax.training.state import TrainState

CHECKPOINT_DIR = "checkpoints"


def checkpoint_manager(workdir: str | os.PathLike, save_every: int, keep: int) -> ocp.CheckpointManager:
    """A manager saving every `save_every` steps (and whenever `save(..., force=True)`), keeping the latest `keep`.

    Args:
      workdir: the training workdir; checkpoints go to `workdir/checkpoints/<step>`.
      save_every: save interval in steps (>= 1).
      keep: how many of the most recent checkpoints to keep (>= 1).
    """
    if save_every < 1 or keep < 1:
        raise UserError(f"config.checkpoint: save_every and keep must be >= 1, got {save_every} and {keep}")
    options = ocp.CheckpointManagerOptions(
        # Every multiple of save_every (orbax's own interval would also save the first step it sees).
        should_save_fn=lambda step, _last: step % save_every == 0,
        preservation_policy=ocp.checkpoint_managers.LatestN(keep),
        enable_async_checkpointing=False,
        cleanup_tmp_directories=True,
        create=True,
    )
    return ocp.CheckpointManager(Path(workdir).absolute() / CHECKPOINT_DIR, options=options)


def save(manager: ocp.CheckpointManager, state: TrainState, force: bool = False) -> bool:
    """Saves `state` under its step if the interval says so (or `force`); True if a checkpoint was written."""
    step = int(jax.device_get(state.step))
    if manager.latest_step() == step or not (force or manager.should_save(step)):
        return False
    # Around the write, the memory malloc keeps goes back to the OS: before it, the last step's temporaries (kept
    # for the next step, see compilation.keep_freed_host_memory), so the copies do not stack on them; after it,
    # the copies orbax's threads freed into their own arenas (about one copy of the state per save).
    release_freed_host_memory()
    saved = manager.save(step, args=ocp.args.StandardSave(state), force=force)
    manager.wait_until_finished()
    release_freed_host_memory()
    return bool(saved)


def latest_step(manager: ocp.CheckpointManager) -> int | None:
    """The step of the newest complete checkpoint, or None."""
    return manager.latest_step()


def saved_step(workdir: str | os.PathLike) -> int | None:
    """The step of the newest complete checkpoint in `workdir/checkpoints`, or None; creates nothing (for
    decisions made before work)."""
    ckpt_dir = Path(workdir) / CHECKPOINT_DIR
    if not ckpt_dir.is_dir():
        return None
    with ocp.CheckpointManager(ckpt_dir.absolute(), options=ocp.CheckpointManagerOptions(read_only=True)) as m:
        return m.latest_step()


def restore(
    manager: ocp.CheckpointManager,
    init_fn: Callable[[], TrainState],
    sharding: jax.sharding.Sharding | None = None,
    step: int | None = None,
) -> TrainState:
    """Restores the checkpoint at `step` (default: the latest) into the structure `init_fn` would build.

    The target is abstract (`jax.eval_shape(init_fn)`), so nothing is initialised or compiled just to be thrown
    away; `sharding` (e.g. replicated over the mesh) places the restored arrays.

    Raises:
      UserError: the checkpoint does not match the configured model (e.g. a different num_block).
    """
    step = manager.latest_step() if step is None else step
    abstract = jax.eval_shape(init_fn)
    if sharding is not None:
        abstract = shapes(abstract, sharding)
    where = Path(manager.directory) / str(step)
    try:
        restored = manager.restore(step, args=ocp.args.StandardRestore(abstract))
    except (ValueError, KeyError, TypeError) as e:
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise _mismatch(where, msg[:200]) from None
    # orbax restores a saved array with its saved shape even where the target's differs: check every leaf.
    for (path, got), want in zip(
        jax.tree_util.tree_flatten_with_path(restored)[0], jax.tree.leaves(abstract), strict=True
    ):
        if got.shape != want.shape or got.dtype != want.dtype:
            what = (
                f"{jax.tree_util.keystr(path)} is {got.dtype}{list(got.shape)}, expected {want.dtype}{list(want.shape)}"
            )
            raise _mismatch(where, what)
    return restored


def _mismatch(where: Path, what: str) -> UserError:
    return UserError(
        f"{where}: checkpoint does not match the configured model/optimizer ({what}); "
        "use the config it was trained with, or a new --workdir"
    )
