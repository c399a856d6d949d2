"""Training checkpoints in `WORKDIR/checkpoints`: orbax CheckpointManager around the whole `TrainState`.

orbax writes each step into a temporary directory and renames it when complete, so a run killed at any moment
(SIGKILL included) leaves only whole checkpoints plus, at worst, an ignored temporary directory; the run loses
at most the steps since the last save. Saving is synchronous: the state is donated to the next step, so its
buffers must be written before training continues.
"""

from __future__ import annotations

import itertools
import os
import shutil
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
    try:
        saved = manager.save(step, args=ocp.args.StandardSave(state), force=force)
        manager.wait_until_finished()
    except Exception as e:  # a full disk or a failing one: OSError, or tensorstore's error naming the cause
        if not isinstance(e, OSError) and not any(t in str(e) for t in _DISK_ERRORS):
            raise
        raise _write_failed(manager, step, e) from None
    release_freed_host_memory()
    return bool(saved)


_DISK_ERRORS = ("No space left on device", "Disk quota exceeded", "Read-only file system", "Input/output error")


def _write_failed(manager: ocp.CheckpointManager, step: int, e: Exception) -> UserError:
    """The one-line error of a checkpoint that could not be written; its partial directory is removed first."""
    directory = Path(manager.directory)
    for partial in directory.glob(f"{step}.orbax-checkpoint-tmp*"):
        shutil.rmtree(partial, ignore_errors=True)
    reason = e.strerror if isinstance(e, OSError) and e.strerror else next(t for t in _DISK_ERRORS if t in str(e))
    good = [s for s in manager.all_steps() if s != step]
    kept = f"the newest complete one, step {max(good)}, is intact" if good else "no earlier checkpoint exists"
    return UserError(
        f"{directory}: cannot write the checkpoint of step {step} ({reason}); {kept}; free space and run the same "
        "command again to resume"
    )


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


def restore_newest_readable(
    manager: ocp.CheckpointManager,
    init_fn: Callable[[], TrainState],
    sharding: jax.sharding.Sharding | None = None,
    say: Callable[[str], None] = print,
) -> tuple[TrainState, int]:
    """Restores the newest checkpoint that can be read; (state, its step).

    A newer one that cannot (truncated or missing files, after a crash or a full disk) is moved to
    `WORKDIR/damaged_checkpoints/` with one line through `say`, so training never silently starts over and a
    later save of that step is not refused. Call with no other manager open on the directory.

    Raises:
      UserError: no checkpoint can be read (the newest one's reason; a model mismatch when every one mismatches).
    """
    directory = Path(manager.directory)
    steps = sorted(manager.all_steps(), reverse=True)
    errors: list[tuple[int, Exception]] = []
    for step in steps:
        try:
            state = restore(manager, init_fn, sharding, step)
        except Exception as e:  # noqa: BLE001 - orbax and tensorstore raise many types for damaged files
            errors.append((step, e))
            continue
        for bad, e in errors:
            aside = directory.parent / "damaged_checkpoints" / str(bad)
            aside.parent.mkdir(exist_ok=True)
            for n in itertools.count(1):  # the same step damaged before: keep both
                if not aside.exists():
                    break
                aside = aside.with_name(f"{bad}.{n}")
            os.replace(directory / str(bad), aside)
            say(
                f"resume: {directory / str(bad)} is damaged ({_reason(e)}); moved to {aside}, resuming from step {step}"
            )
        return state, step
    step, e = errors[0]
    if isinstance(e, UserError):
        raise e
    raise UserError(
        f"{directory / str(step)}: cannot read the checkpoint ({_reason(e)}), nor any earlier one; move "
        f"{directory} away to start from the converted weights"
    )


def _reason(e: Exception) -> str:
    text = " ".join(str(e).split()).split(" See full TensorStore details")[0]  # the rest names a C++ method
    return text[:160] if text else type(e).__name__


def _mismatch(where: Path, what: str) -> UserError:
    return UserError(
        f"{where}: checkpoint does not match the configured model/optimizer ({what}); "
        "use the config it was trained with, or a new --workdir"
    )
