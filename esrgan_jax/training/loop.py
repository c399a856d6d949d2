"""The training loop: steps from the state's step to the run's total, logging, checkpointing and validating."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import numpy as np

from esrgan_jax import compilation, sharding
from esrgan_jax.data.pipeline import train_batches
from esrgan_jax.errors import UserError
from esrgan_jax.image.color import rgb_to_ycbcr
from esrgan_jax.models import network_input
from esrgan_jax.training import checkpoints, recorder
from esrgan_jax.training.interrupt import InterruptedTrainingError, StopRequests
from esrgan_jax.training.run import Run
from esrgan_jax.training.state import TrainState
from esrgan_jax.training.step import compile_train_step


class NonFiniteLossError(UserError):
    """A loss became NaN or infinite; training stopped without saving the bad state."""

    exit_code = 3


def _check_finite(step: int, metrics: dict[str, float], manager: Any) -> None:
    for name, value in metrics.items():
        if not np.isfinite(value):
            last = checkpoints.latest_step(manager)
            kept = f"last good checkpoint: step {last}" if last is not None else "no checkpoint was saved yet"
            raise NonFiniteLossError(f"step {step}: loss {name} is {value} (non-finite); training stopped, {kept}")


def prepare_batch(run: Run, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """A pipeline batch as the generator takes it: Y only for a one-channel generator (SRCNN's own setting),
    the bicubic-upsampled LR for a pre-upsampling one."""
    if run.generator.in_channels == 1:
        batch = {k: rgb_to_ycbcr(v)[..., :1] for k, v in batch.items()}
    return dict(batch, lr=network_input(run.generator, batch["lr"]))


def compile_step(run: Run, state_shapes: TrainState, vgg_params: Any) -> Callable[..., tuple[TrainState, dict]]:
    """The run's train step compiled for the shapes and shardings of its state, batches and VGG parameters.

    Takes shapes (`sharding.shapes`), so it can run before the state exists: compiling the 23-block GAN step
    holds over a GB of compiler memory for a minute on a CPU, which then does not come on top of the state.
    The result is called as `step(state, sharding.put_batch(batch, run.mesh), vgg_params)` and raises on any
    other shape instead of compiling again.
    """
    n, s = run.config.data.batch_size // jax.process_count(), run.config.data.scale
    side = run.lr_side
    zeros = {"lr": np.zeros((n, side, side, 3), np.float32), "hr": np.zeros((n, side * s, side * s, 3), np.float32)}
    batch = sharding.batch_shapes(prepare_batch(run, zeros), run.mesh)
    vgg = sharding.shapes(vgg_params, sharding.replicated(run.mesh))
    return compilation.compile_and_release(compile_train_step(run.step_cfg, run.mesh), state_shapes, batch, vgg)


def train_loop(
    run: Run,
    step_fn: Callable[..., tuple[TrainState, dict]] | None,
    state: TrainState,
    vgg_params: Any,
    rec: recorder.Recorder,
    validate: Callable[[int, TrainState, tuple[int, float]], bool],
) -> TrainState:
    """Steps from the state's step to `run.total`, logging, checkpointing and validating on the way.

    `step_fn` is `compile_step`'s (None only when the state is already at `run.total`). `validate(step, state,
    (GAN steps, steps with separated D logits) since the last call)` runs every `train.eval_every` steps and at
    the last step; when it returns True training stops there (checkpointed).
    """
    tcfg, data, n_proc = run.config.train, run.config.data, jax.process_count()
    manager = checkpoints.checkpoint_manager(run.workdir, tcfg.save_every, tcfg.keep)
    step = int(jax.device_get(state.step))
    batches = train_batches(
        run.train_ds, lr_patch=data.lr_patch, batch_size=data.batch_size // n_proc, seed=tcfg.seed, epochs=None,
        augment=data.augment, num_workers=data.num_workers, start_step=step, resize_mode=data.resize_mode,
        shard_index=jax.process_index(), shard_count=n_proc,
    )  # fmt: skip
    run.say(
        f"training {run.total} steps ({run.steps_per_epoch} per epoch, global batch {data.batch_size} on "
        f"{run.mesh.devices.size} device(s)) in {run.workdir}"
    )
    bar = recorder.progress_bar(run.total, step, enabled=run.lead)
    sums: dict[str, float] = {}
    d_steps, d_separated = 0, 0.0
    with StopRequests() as signals:
        try:
            while step < run.total:
                placed = sharding.put_batch(prepare_batch(run, next(batches)), run.mesh)
                state, metrics = step_fn(state, placed, vgg_params)
                metrics = {k: float(v) for k, v in jax.device_get(metrics).items()}
                step += 1
                _check_finite(step, metrics, manager)
                for k, v in metrics.items():
                    sums[k] = sums.get(k, 0.0) + v
                if "d_separated" in metrics:
                    d_steps, d_separated = d_steps + 1, d_separated + metrics["d_separated"]
                bar.update(1)
                bar.set_postfix(recorder.format_postfix(step / run.steps_per_epoch, metrics), refresh=False)
                if step % tcfg.log_every == 0 or step == run.total:
                    n = tcfg.log_every if step % tcfg.log_every == 0 else step % tcfg.log_every
                    rec.write(step, "train", {k: v / n for k, v in sums.items()})
                    sums = {}
                checkpoints.save(manager, state, force=step == run.total or signals.requested is not None)
                if signals.requested:
                    manager.close()
                    raise InterruptedTrainingError(
                        f"{signals.requested} at step {step}: checkpoint saved in {manager.directory / str(step)}; "
                        "run the same command again to resume",
                        signals.signum,
                    )
                if step == run.total or (tcfg.eval_every and step % tcfg.eval_every == 0):
                    stop = validate(step, state, (d_steps, d_separated))
                    d_steps, d_separated = 0, 0.0
                    if stop:
                        break
        finally:
            bar.close()
    checkpoints.save(manager, state, force=True)
    manager.close()
    return state
