"""`train_and_evaluate(config, workdir)`: a training run from start to export, built from named steps.

The run resumes from WORKDIR/checkpoints when there is one, else starts from converted weights
(`config.init.*`), else from scratch (`init.generator=none`), and says which. A fine-tune validates its starting
model first (step 0), then every `train.eval_every` steps and at the end (`training.monitor`: best model,
collapse warnings, early stop). It exports the selected generator to WORKDIR/export (a model directory, so
`load_generator(WORKDIR)`, `evaluate --method NAME=WORKDIR` and `upscale --weights WORKDIR` take it) and the last
one to WORKDIR/export_last, and writes the evaluation table against bicubic (WORKDIR/eval.md, the format of
`evaluate`'s summary.md).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections

from esrgan_jax import sharding
from esrgan_jax.training import checkpoints, recorder
from esrgan_jax.training.loop import NonFiniteLossError, compile_step, train_loop
from esrgan_jax.training.monitor import Monitor
from esrgan_jax.training.preflight import Sources, check_config, find_sources, resolve_select
from esrgan_jax.training.run import Run, build_run
from esrgan_jax.training.state import TrainState, create_train_state, generator_params
from esrgan_jax.training.validation import Validator
from esrgan_jax.training.weights import load_weights
from esrgan_jax.training.workdir_lock import workdir_lock

__all__ = ["NonFiniteLossError", "initial_state", "state_builder", "train_and_evaluate"]


def state_builder(run: Run) -> Callable[..., TrainState]:
    """`init(g_params=None, d_variables=None)`: a fresh state, from scratch where an argument is None. Scratch
    init draws with XLA's RngBitGenerator: threefry compiles for tens of seconds on CPU."""
    cfg, tcfg = run.step_cfg, run.config.train
    rng = jax.random.key(tcfg.seed, impl="rbg")

    def init(g_params: Any = None, d_variables: Any = None) -> TrainState:
        if g_params is None:
            g_params = run.generator.init_params(rng)
        if cfg.discriminator is not None and d_variables is None:
            side = run.config.discriminator.input_size
            d_variables = cfg.discriminator.init(jax.random.fold_in(rng, 1), jnp.zeros((1, side, side, 3)), train=False)
        ema = run.config.optim.ema_decay > 0
        return create_train_state(g_params, cfg.g_tx, seed=tcfg.seed, d_variables=d_variables, d_tx=cfg.d_tx, ema=ema)

    return init


def initial_state(run: Run, sources: Sources) -> tuple[TrainState, str]:
    """The state to start from and how it was made: "resume" (the workdir's checkpoint), "converted" or
    "scratch"."""
    init, tcfg = state_builder(run), run.config.train
    manager = checkpoints.checkpoint_manager(run.workdir, tcfg.save_every, tcfg.keep)
    if checkpoints.latest_step(manager) is not None:
        state, resume_step = checkpoints.restore_newest_readable(manager, init, sharding.replicated(run.mesh), run.say)
        run.say(f"start: resuming from {manager.directory / str(resume_step)} (step {resume_step})")
        manager.close()
        return state, "resume"
    manager.close()
    g_params, d_vars = load_weights(sources, "generator", "discriminator")
    # One compiled program: run eagerly, every initializer and layer of init would compile on its own.
    state = jax.jit(init, out_shardings=sharding.replicated(run.mesh))(g_params, d_vars)
    g_from = f"from converted weights {sources.generator}" if sources.generator else "from scratch (random init)"
    run.say(f"start: generator {g_from}")
    if run.step_cfg.discriminator is not None:
        run.say(
            f"start: discriminator {'from ' + str(sources.discriminator) if d_vars else 'from scratch (random init)'}"
        )
    return state, "converted" if sources.generator else "scratch"


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str | os.PathLike) -> dict[str, Any]:
    """Trains the generator described by `config`, checkpointing to and exporting into `workdir`.

    Args:
      config: a training config (every field: esrgan_jax/training/defaults.py).
      workdir: where checkpoints, metrics.jsonl, TensorBoard events, curves.png, eval.md and export/ go.

    Returns:
      {"start": "resume" | "converted" | "scratch", "step": final step, "export" / "export_last": the selected
      and the last model directories, "select": the metric or "last", "selected_step", "stopped": None,
      "patience" or "collapse", "baseline": the step-0 scores or None, and with a validation set "val" /
      "bicubic": mean scores of the exported generator and of bicubic, "table": the printed Markdown}.

    Raises:
      UserError: missing converted weights, bad config values or data, a workdir another run is using, a
        checkpoint that cannot be written (exit code 2); NonFiniteLossError on a NaN/inf loss (exit code 3);
        InterruptedTrainingError on SIGTERM / Ctrl-C, once the current step is saved (exit code 143 / 130).
    """
    sharding.maybe_initialize_distributed()
    workdir = Path(workdir)
    kind, hparams = check_config(config)
    sources = find_sources(config, workdir, kind, hparams)  # before anything is read, written or compiled
    with workdir_lock(workdir) if jax.process_index() == 0 else contextlib.nullcontext():
        return _train(config, workdir, kind, hparams, sources)


def _train(
    config: ml_collections.ConfigDict, workdir: Path, kind: str, hparams: dict[str, Any], sources: Sources
) -> dict[str, Any]:
    """`train_and_evaluate` once the config is checked, the weights found and the workdir locked."""
    run = build_run(config, workdir, kind, hparams)
    vgg_params = load_weights(sources, "vgg")[0] or {}

    def compile_from_shapes() -> Callable:  # the state's shapes are traced only when a step is to be compiled
        shapes = sharding.shapes(jax.eval_shape(state_builder(run)), sharding.replicated(run.mesh))
        return compile_step(run, shapes, vgg_params)

    step_fn = None
    if (sources.saved_step or 0) < run.total:  # before the state exists (loop.compile_step)
        step_fn = compile_from_shapes()
    state, start = initial_state(run, sources)
    if step_fn is None and int(jax.device_get(state.step)) < run.total:  # the last checkpoint was damaged
        step_fn = compile_from_shapes()
    vgg_params = sharding.put_replicated(vgg_params, run.mesh)
    workdir.mkdir(parents=True, exist_ok=True)
    if run.lead:
        (workdir / "config.json").write_text(config.to_json_best_effort(indent=2) + "\n")
    validator = None
    if run.val_ds is not None:
        (lpips,) = load_weights(sources, "lpips")
        validator = Validator(run.generator, run.val_ds, workdir.name, config.data.val_images, lpips)
    rec = recorder.Recorder(workdir, enabled=run.lead)
    metric = resolve_select(config)
    monitor = Monitor(run, validator, rec, metric)
    try:
        if start == "resume":
            monitor.restore()
        elif start == "converted" and validator is not None:  # the baseline every validation is compared with
            monitor.validate(0, sharding.host_copy(generator_params(state)))

        def periodic(step: int, current: TrainState, d_interval: tuple[int, float]) -> bool:
            return monitor.validate(step, sharding.host_copy(generator_params(current)), d_interval)

        if monitor.stopped is None:
            state = train_loop(run, step_fn, state, vgg_params, rec, periodic)
        step = int(jax.device_get(state.step))
        last = sharding.host_copy(generator_params(state))
        return monitor.finish(step, last, start, bool(state.has_ema))
    finally:
        rec.close()
