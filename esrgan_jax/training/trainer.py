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

import dataclasses
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from esrgan_jax import compilation, sharding
from esrgan_jax.data import PairedDataset, open_dataset
from esrgan_jax.data.pipeline import FIXED_LR_SIZE, steps_per_epoch, train_batches
from esrgan_jax.errors import UserError
from esrgan_jax.image.color import rgb_to_ycbcr
from esrgan_jax.inference.upscaler import network_input
from esrgan_jax.models import VGGFeatures, VGGStyleDiscriminator, build_model, compute_dtype
from esrgan_jax.models.store import load_variables
from esrgan_jax.training import checkpoints, optim, recorder
from esrgan_jax.training.monitor import Monitor
from esrgan_jax.training.setup import PERCEPTUAL_NETS, Sources, check_config, find_sources, is_none, resolve_select
from esrgan_jax.training.state import TrainState, create_train_state, generator_params
from esrgan_jax.training.step import StepConfig, compile_train_step
from esrgan_jax.training.validation import Validator


class NonFiniteLossError(UserError):
    """A loss became NaN or infinite; training stopped without saving the bad state."""

    exit_code = 3


@dataclasses.dataclass
class Run:
    """What the loop needs, built once: the networks, their optimisers, the data and the mesh."""

    config: ml_collections.ConfigDict
    workdir: Path
    kind: str
    hparams: dict[str, Any]
    generator: nn.Module
    step_cfg: StepConfig
    mesh: jax.sharding.Mesh
    train_ds: PairedDataset
    val_ds: PairedDataset | None
    steps_per_epoch: int
    total: int
    lead: bool  # process 0: the one that prints and writes

    def say(self, *args: Any) -> None:
        if self.lead:
            print(*args)


def _open(spec: str, split: str, scale: int, skip_bad: bool) -> PairedDataset:
    return open_dataset(spec, scale, split=split or None, skip_bad=skip_bad)


def build_run(config: ml_collections.ConfigDict, workdir: Path, kind: str, hparams: dict[str, Any]) -> Run:
    """The networks (generator, optional discriminator and VGG), optimisers with the freeze table, data, mesh."""
    dtype = compute_dtype(config.train.dtype)
    loss, data = config.loss, config.data
    generator = build_model(kind, hparams, dtype=dtype)
    discriminator = VGGStyleDiscriminator(**dict(config.discriminator), dtype=dtype) if loss.gan_weight > 0 else None
    vgg = None
    layer = loss.perceptual_layer or PERCEPTUAL_NETS[loss.perceptual_net]
    if loss.perceptual_weight > 0:
        vgg = VGGFeatures(arch=loss.perceptual_net, layers=(layer,), dtype=dtype)

    # Every process reads its own shard; the global batch is split over processes, then devices. One process
    # splits it over as many devices as divide its images, else its rows (a CPU's cores).
    n_proc, bs = jax.process_count(), data.batch_size
    lr_rows = data.lr_patch if data.resize_mode == "crop" else FIXED_LR_SIZE
    mesh = sharding.mesh_for((bs, lr_rows)) if n_proc == 1 else sharding.make_mesh()
    if n_proc > 1 and (bs % jax.device_count() or bs % n_proc):
        raise UserError(
            f"config.data.batch_size={bs} must be a multiple of the {jax.device_count()} devices and {n_proc} processes"
        )
    train_ds = _open(data.train, data.train_split, data.scale, data.skip_bad)
    val_ds = None if is_none(data.val) else _open(data.val, data.val_split, data.scale, data.skip_bad)
    spe = steps_per_epoch(
        train_ds, bs // n_proc, lr_patch=data.lr_patch, resize_mode=data.resize_mode, shard_count=n_proc
    )
    total = config.train.steps if config.train.steps > 0 else config.train.epochs * spe

    g_abstract = jax.eval_shape(generator.init_params, jax.random.key(0, impl="rbg"))
    rules = tuple(map(tuple, config.train_rules))
    g_tx, table = optim.make_optimizer(optim.adam(config.optim), g_abstract, rules)
    step_cfg = StepConfig(
        generator=generator,
        g_tx=g_tx,
        pixel_loss=loss.pixel,
        pixel_weight=loss.pixel_weight,
        perceptual_weight=loss.perceptual_weight,
        vgg=vgg,
        layer_weights=((layer, 1.0),),
        gan_weight=loss.gan_weight,
        discriminator=discriminator,
        d_tx=optim.adam(config.optim, lr=config.optim.d_lr) if discriminator else None,
        ema_decay=config.optim.ema_decay,
    )
    run = Run(config, workdir, kind, hparams, generator, step_cfg, mesh, train_ds, val_ds, spe, total,
              lead=jax.process_index() == 0)  # fmt: skip
    run.say(optim.format_table(table))
    return run


def initial_state(run: Run, sources: Sources) -> tuple[TrainState, str]:
    """The state to start from and how it was made: "resume" (the workdir's checkpoint), "converted" or
    "scratch". Scratch init draws with XLA's RngBitGenerator: threefry compiles for tens of seconds on CPU."""
    cfg, tcfg = run.step_cfg, run.config.train
    rng = jax.random.key(tcfg.seed, impl="rbg")

    def init(g_params=None, d_variables=None) -> TrainState:
        if g_params is None:
            g_params = run.generator.init_params(rng)
        if cfg.discriminator is not None and d_variables is None:
            side = run.config.discriminator.input_size
            d_variables = cfg.discriminator.init(jax.random.fold_in(rng, 1), jnp.zeros((1, side, side, 3)), train=False)
        ema = run.config.optim.ema_decay > 0
        return create_train_state(g_params, cfg.g_tx, seed=tcfg.seed, d_variables=d_variables, d_tx=cfg.d_tx, ema=ema)

    manager = checkpoints.checkpoint_manager(run.workdir, tcfg.save_every, tcfg.keep)
    resume_step = checkpoints.latest_step(manager)
    if resume_step is not None:
        state = checkpoints.restore(manager, init, sharding.replicated(run.mesh))
        run.say(f"start: resuming from {manager.directory / str(resume_step)} (step {resume_step})")
        manager.close()
        return state, "resume"
    manager.close()
    g_params = load_variables(sources.generator)[1]["params"] if sources.generator else None
    d_vars = load_variables(sources.discriminator)[1] if sources.discriminator else None
    # One compiled program: run eagerly, every initializer and layer of init would compile on its own.
    state = jax.jit(init, out_shardings=sharding.replicated(run.mesh))(g_params, d_vars)
    g_from = f"from converted weights {sources.generator}" if sources.generator else "from scratch (random init)"
    run.say(f"start: generator {g_from}")
    if cfg.discriminator is not None:
        run.say(
            f"start: discriminator {'from ' + str(sources.discriminator) if d_vars else 'from scratch (random init)'}"
        )
    return state, "converted" if sources.generator else "scratch"


def _check_finite(step: int, metrics: dict[str, float], manager: Any) -> None:
    for name, value in metrics.items():
        if not np.isfinite(value):
            last = checkpoints.latest_step(manager)
            kept = f"last good checkpoint: step {last}" if last is not None else "no checkpoint was saved yet"
            raise NonFiniteLossError(f"step {step}: loss {name} is {value} (non-finite); training stopped, {kept}")


def _prepare_batch(run: Run, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """A pipeline batch as the generator takes it: Y only for a one-channel generator (SRCNN's own setting),
    the bicubic-upsampled LR for a pre-upsampling one."""
    if run.generator.in_channels == 1:
        batch = {k: rgb_to_ycbcr(v)[..., :1] for k, v in batch.items()}
    return dict(batch, lr=network_input(run.generator, batch["lr"]))


def train_loop(
    run: Run,
    state: TrainState,
    vgg_params: Any,
    rec: recorder.Recorder,
    validate: Callable[[int, TrainState, tuple[int, float]], bool],
) -> TrainState:
    """Steps from the state's step to `run.total`, logging, checkpointing and validating on the way.

    `validate(step, state, (GAN steps, steps with separated D logits) since the last call)` runs every
    `train.eval_every` steps and at the last step; when it returns True training stops there (checkpointed).
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
    step_fn, compiled = compile_train_step(run.step_cfg, run.mesh), None
    bar = recorder.progress_bar(run.total, step, enabled=run.lead)
    sums: dict[str, float] = {}
    d_steps, d_separated = 0, 0.0
    try:
        while step < run.total:
            placed = sharding.put_batch(_prepare_batch(run, next(batches)), run.mesh)
            if compiled is None:  # ahead of the first step, so its buffers do not stack on the compiler's
                compiled = compilation.compile_and_release(step_fn, state, placed, vgg_params)
            state, metrics = compiled(state, placed, vgg_params)
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
            checkpoints.save(manager, state, force=step == run.total)
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


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str | os.PathLike) -> dict[str, Any]:
    """Trains the generator described by `config`, checkpointing to and exporting into `workdir`.

    Args:
      config: a training config (see configs/base.py for every field).
      workdir: where checkpoints, metrics.jsonl, TensorBoard events, curves.png, eval.md and export/ go.

    Returns:
      {"start": "resume" | "converted" | "scratch", "step": final step, "export" / "export_last": the selected
      and the last model directories, "select": the metric or "last", "selected_step", "stopped": None,
      "patience" or "collapse", "baseline": the step-0 scores or None, and with a validation set "val" /
      "bicubic": mean scores of the exported generator and of bicubic, "table": the printed Markdown}.

    Raises:
      UserError: missing converted weights, bad config values or data (exit code 2);
        NonFiniteLossError on a NaN/inf loss (exit code 3).
    """
    sharding.maybe_initialize_distributed()
    workdir = Path(workdir)
    kind, hparams = check_config(config)
    sources = find_sources(config, workdir, kind, hparams)  # before anything is read, written or compiled
    run = build_run(config, workdir, kind, hparams)
    state, start = initial_state(run, sources)
    vgg_params = {}
    if sources.vgg is not None:
        vgg_params = sharding.put_replicated(load_variables(sources.vgg)[1]["params"], run.mesh)
    workdir.mkdir(parents=True, exist_ok=True)
    if run.lead:
        (workdir / "config.json").write_text(config.to_json_best_effort(indent=2) + "\n")
    validator = None
    if run.val_ds is not None:
        validator = Validator(run.generator, run.val_ds, workdir.name, config.data.val_images, sources.lpips)
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
            state = train_loop(run, state, vgg_params, rec, periodic)
        step = int(jax.device_get(state.step))
        last = sharding.host_copy(generator_params(state))
        return monitor.finish(step, last, start, bool(state.has_ema))
    finally:
        rec.close()
