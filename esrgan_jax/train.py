"""Training: `train_and_evaluate(config, workdir)` and the `python -m esrgan_jax.train` entry point.

  python -m esrgan_jax.train --config NAME_OR_PATH [--workdir DIR] [--config.KEY=VALUE ...]

`--config demo` means `configs/demo.py`; the workdir defaults to `runs/<config name>`. The run resumes from
WORKDIR/checkpoints when there is one, else starts from converted weights (`config.init.*`), else from scratch
(`init.generator=none`), and says which. It ends by exporting the generator to WORKDIR/export (a model directory,
so `load_generator(WORKDIR)`, `evaluate --method NAME=WORKDIR` and `upscale --weights WORKDIR` take it) and by
printing the validation table against bicubic.

Several hosts: start the same command on every host under a cluster launcher (SLURM `srun`, `mpirun`, or with
JAX_COORDINATOR_ADDRESS / JAX_NUM_PROCESSES / JAX_PROCESS_ID set); `jax.distributed.initialize()` picks it up and
each process reads its own shard of the data.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from esrgan_jax import checkpointing, devices, hostmem, observe, optim, train_state, train_steps, validate
from esrgan_jax.checkpoint import CheckpointError, read_meta, resolve_model_dir, save_model
from esrgan_jax.color import input_channels, rgb_to_ycbcr
from esrgan_jax.data import open_dataset
from esrgan_jax.data.pipeline import FIXED_LR_SIZE, steps_per_epoch, train_batches
from esrgan_jax.errors import UserError, run_cli
from esrgan_jax.fileio import atomic_write
from esrgan_jax.models import MODELS, VGGFeatures, VGGStyleDiscriminator, build_model

CONFIGS_DIR = Path(__file__).resolve().parents[1] / "configs"
DTYPES = {"float32": jnp.float32, "bfloat16": jnp.bfloat16}
_CLUSTER_ENV = ("JAX_COORDINATOR_ADDRESS", "SLURM_NTASKS", "OMPI_COMM_WORLD_SIZE")


class NonFiniteLossError(UserError):
    """A loss became NaN or infinite; training stopped without saving the bad state."""

    exit_code = 3


def maybe_initialize_distributed() -> None:
    """Calls `jax.distributed.initialize()` when a multi-process cluster launcher's environment is present.

    SLURM and Open MPI are detected by JAX itself. Any other launcher sets JAX_COORDINATOR_ADDRESS plus
    JAX_NUM_PROCESSES and JAX_PROCESS_ID, which JAX does not read on its own, so they are passed explicitly.
    """
    env = os.environ
    multi = "JAX_COORDINATOR_ADDRESS" in env or any(int(env.get(k, "1") or 1) > 1 for k in _CLUSTER_ENV[1:])
    if not multi or jax.distributed.is_initialized():
        return
    given = {k: env[k] for k in ("JAX_NUM_PROCESSES", "JAX_PROCESS_ID") if k in env}
    if not given:
        jax.distributed.initialize()
        return
    if len(given) < 2 or not all(v.isdigit() for v in given.values()):
        shown = ", ".join(f"{k}={v!r}" for k, v in given.items())
        raise UserError(f"{shown}: set both JAX_NUM_PROCESSES and JAX_PROCESS_ID to whole numbers (or neither)")
    jax.distributed.initialize(num_processes=int(given["JAX_NUM_PROCESSES"]), process_id=int(given["JAX_PROCESS_ID"]))


def _is_none(value: str) -> bool:
    return str(value).strip().lower() in ("", "none")


def _require_model_dir(path: str, what: str, pth: str, key: str) -> Path:
    """The model directory at `path`, or one line naming the missing file and the conversion command."""
    try:
        return resolve_model_dir(path)
    except CheckpointError:
        hint = " (or --config.init.generator=none to train from scratch)" if key == "init.generator" else ""
        raise UserError(
            f"{Path(path) / 'model.json'}: converted {what} not found (config.{key}); convert it first: "
            f"python -m weights_conversion {pth} {path}{hint}"
        ) from None


def _check_hparams(mdir: Path, kind: str, hparams: dict[str, Any], key: str) -> None:
    """Converted weights must be of the configured architecture: a mismatch is one line naming both."""
    meta = read_meta(mdir)
    if meta["kind"] != kind:
        raise UserError(f"{mdir}: holds a {meta['kind']!r} model but config.{key}.kind is {kind!r}")
    for name, value in hparams.items():
        saved = meta["hparams"].get(name, value)
        if saved != value and not (isinstance(saved, list) and tuple(saved) == tuple(value)):
            raise UserError(f"{mdir}: {name}={saved!r} but config.{key}.{name}={value!r}; make them agree")


def _load_params(mdir: Path) -> dict[str, Any]:
    from esrgan_jax.checkpoint import load_variables

    return load_variables(mdir)[1]


def _open(spec: str, split: str, scale: int, skip_bad: bool):
    return open_dataset(spec, scale, split=split or None, skip_bad=skip_bad)


def _check_finite(step: int, metrics: dict[str, float], manager) -> None:
    for name, value in metrics.items():
        if not np.isfinite(value):
            last = checkpointing.latest_step(manager)
            kept = f"last good checkpoint: step {last}" if last is not None else "no checkpoint was saved yet"
            raise NonFiniteLossError(f"step {step}: loss {name} is {value} (non-finite); training stopped, {kept}")


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str | os.PathLike) -> dict[str, Any]:
    """Trains the generator described by `config`, checkpointing to and exporting into `workdir`.

    Args:
      config: a training config (see configs/base.py for every field).
      workdir: where checkpoints, metrics.jsonl, TensorBoard events, curves.png and export/ go.

    Returns:
      {"start": "resume" | "converted" | "scratch", "step": final step, "val": mean validation scores of the
      exported generator, "bicubic": the same for bicubic, "table": the printed Markdown table,
      "export": path of the exported model directory}.

    Raises:
      UserError: missing converted weights, bad config values or data (exit code 2);
        NonFiniteLossError on a NaN/inf loss (exit code 3).
    """
    maybe_initialize_distributed()
    workdir = Path(workdir)
    lead = jax.process_index() == 0
    say = print if lead else (lambda *a, **k: None)
    mcfg, init, loss, tcfg = dict(config.model), config.init, config.loss, config.train
    kind = mcfg.pop("kind")
    if kind not in ("rrdbnet", "srcnn"):
        raise UserError(f"config.model.kind: expected 'rrdbnet' or 'srcnn', got {kind!r}")
    if tcfg.dtype not in DTYPES:
        raise UserError(f"config.train.dtype: expected one of {sorted(DTYPES)}, got {tcfg.dtype!r}")
    if loss.pixel not in ("l1", "mse"):
        raise UserError(f"config.loss.pixel: expected 'l1' or 'mse', got {loss.pixel!r}")
    dtype = DTYPES[tcfg.dtype]
    use_gan, use_vgg = loss.gan_weight > 0, loss.perceptual_weight > 0
    resuming = checkpointing.has_checkpoint(workdir)

    # Decide where the weights come from, and check that they exist, before anything is read, written or compiled.
    g_dir = None if resuming or _is_none(init.generator) else init.generator
    if g_dir is not None:
        g_dir = _require_model_dir(g_dir, "generator", init.generator_pth, "init.generator")
        _check_hparams(g_dir, kind, mcfg, "model")
    vgg_dir = _require_model_dir(init.vgg19, "VGG19", init.vgg19_pth, "init.vgg19") if use_vgg else None
    if not _is_none(tcfg.lpips):
        _require_model_dir(tcfg.lpips, "LPIPS", "--kind lpips vgg16-397923af.pth", "train.lpips")
    d_dir = None
    if use_gan and not resuming and not _is_none(init.discriminator):
        d_dir = _require_model_dir(init.discriminator, "discriminator", "DISCRIMINATOR.pth", "init.discriminator")

    generator = build_model(kind, mcfg, dtype=dtype)
    pre_upsample = bool(getattr(MODELS[kind], "pre_upsample", False))
    luma = input_channels(generator) == 1
    scale = int(mcfg.get("scale", config.data.scale))
    if scale != config.data.scale:
        raise UserError(f"config.model.scale={scale} but config.data.scale={config.data.scale}; make them agree")
    discriminator = vgg = None
    if use_gan:
        discriminator = VGGStyleDiscriminator(**dict(config.discriminator), dtype=dtype)
        hr_side = config.data.lr_patch * scale
        if hr_side != config.discriminator.input_size:
            raise UserError(
                f"config.data.lr_patch={config.data.lr_patch} gives {hr_side}x{hr_side} HR patches but "
                f"config.discriminator.input_size={config.discriminator.input_size}; they must be equal"
            )
    if use_vgg:
        vgg = VGGFeatures(arch="vgg19", layers=(loss.perceptual_layer,), dtype=dtype)

    # Data: every process reads its own shard; the global batch is split over processes, then devices.
    n_proc, bs = jax.process_count(), config.data.batch_size
    # One process splits the batch over as many devices as divide its images, else its rows (a CPU's cores:
    # esrgan_jax.devices); several processes split by images over all devices.
    lr_rows = config.data.lr_patch if config.data.resize_mode == "crop" else FIXED_LR_SIZE
    mesh = devices.mesh_for((bs, lr_rows)) if n_proc == 1 else train_steps.make_mesh()
    if n_proc > 1 and (bs % jax.device_count() or bs % n_proc):
        raise UserError(
            f"config.data.batch_size={bs} must be a multiple of the {jax.device_count()} devices and {n_proc} processes"
        )
    local_bs = bs // n_proc
    train_ds = _open(config.data.train, config.data.train_split, scale, config.data.skip_bad)
    val_ds = (
        None
        if _is_none(config.data.val)
        else _open(config.data.val, config.data.val_split, scale, config.data.skip_bad)
    )
    spe = steps_per_epoch(
        train_ds, local_bs, lr_patch=config.data.lr_patch, resize_mode=config.data.resize_mode, shard_count=n_proc
    )
    total = tcfg.steps if tcfg.steps > 0 else tcfg.epochs * spe

    # Optimizers, with the freeze table of the generator.
    # Scratch init draws with XLA's RngBitGenerator: compiling threefry for every initializer of G and D takes
    # tens of seconds on CPU, rbg a few.
    rng = jax.random.key(tcfg.seed, impl="rbg")
    g_abstract = jax.eval_shape(lambda: generator.init_params(rng) if kind == "rrdbnet" else _srcnn_init(generator))
    g_tx, table = optim.make_optimizer(optim.adam(config.optim), g_abstract, tuple(map(tuple, config.train_rules)))
    say(optim.format_table(table))
    d_tx = optim.adam(config.optim, lr=config.optim.d_lr) if use_gan else None

    def init_state(g_params=None, d_variables=None):
        if g_params is None:
            g_params = generator.init_params(rng) if kind == "rrdbnet" else _srcnn_init(generator)
        if use_gan and d_variables is None:
            side = config.discriminator.input_size
            d_variables = discriminator.init(jax.random.fold_in(rng, 1), jnp.zeros((1, side, side, 3)), train=False)
        return train_state.create_train_state(
            g_params, g_tx, seed=tcfg.seed, d_variables=d_variables, d_tx=d_tx, ema=config.optim.ema_decay > 0
        )

    # Start order: a checkpoint in the workdir (resume exactly) > converted weights > scratch.
    manager = checkpointing.checkpoint_manager(workdir, tcfg.save_every, tcfg.keep)
    resume_step = checkpointing.latest_step(manager)
    if resume_step is not None:
        state = checkpointing.restore(manager, init_state, train_steps.replicated(mesh))
        start = "resume"
        say(f"start: resuming from {manager.directory / str(resume_step)} (step {resume_step})")
    else:
        g_params = _load_params(g_dir)["params"] if g_dir is not None else None
        d_vars = _load_params(d_dir) if d_dir is not None else None
        # One compiled program: run eagerly, every initializer and layer of init would compile on its own.
        state = jax.jit(init_state, out_shardings=train_steps.replicated(mesh))(g_params, d_vars)
        start = "converted" if g_dir is not None else "scratch"
        say(f"start: generator {'from converted weights ' + str(g_dir) if g_dir else 'from scratch (random init)'}")
        if use_gan:
            say(f"start: discriminator {'from ' + str(d_dir) if d_dir else 'from scratch (random init)'}")
    vgg_params = {}
    if use_vgg:
        _check_hparams(vgg_dir, "vgg19", {}, "init")
        vgg_params = train_steps.put_replicated(_load_params(vgg_dir)["params"], mesh)

    step_cfg = train_steps.StepConfig(
        generator=generator,
        g_tx=g_tx,
        pixel_loss=loss.pixel,
        pixel_weight=loss.pixel_weight,
        perceptual_weight=loss.perceptual_weight,
        vgg=vgg,
        layer_weights=((loss.perceptual_layer, 1.0),),
        gan_weight=loss.gan_weight,
        discriminator=discriminator,
        d_tx=d_tx,
        ema_decay=config.optim.ema_decay,
    )
    step_fn = train_steps.compile_train_step(step_cfg, mesh)
    workdir.mkdir(parents=True, exist_ok=True)
    if lead:
        (workdir / "config.json").write_text(config.to_json_best_effort(indent=2) + "\n")
    recorder = observe.Recorder(workdir, enabled=lead)
    predict = validate.make_predict_fn(generator)
    lpips_fn = None if _is_none(tcfg.lpips) or val_ds is None else validate.make_lpips_fn(tcfg.lpips)

    def run_validation(step: int) -> dict[str, float]:
        scores, triplets = validate.validate(
            predict, train_state.generator_params(state), val_ds, scale, pre_upsample=pre_upsample, luma=luma,
            limit=config.data.val_images, lpips_fn=lpips_fn,
        )  # fmt: skip
        recorder.write(step, "val", scores)
        if lead:
            observe.save_grid(workdir / observe.GRID_FILE, triplets)
            observe.plot_curves(workdir)
        return scores

    step = int(jax.device_get(state.step))
    batches = train_batches(
        train_ds,
        lr_patch=config.data.lr_patch,
        batch_size=local_bs,
        seed=tcfg.seed,
        epochs=None,
        augment=config.data.augment,
        num_workers=config.data.num_workers,
        start_step=step,
        resize_mode=config.data.resize_mode,
        shard_index=jax.process_index(),
        shard_count=n_proc,
    )
    say(f"training {total} steps ({spe} per epoch, global batch {bs} on {mesh.devices.size} device(s)) in {workdir}")
    bar = observe.progress_bar(total, step, enabled=lead)
    sums: dict[str, float] = {}
    compiled_step = None
    try:
        while step < total:
            batch = next(batches)
            if luma:  # a one-channel generator learns the Y of the RGB patches (SRCNN's own setting)
                batch = {k: rgb_to_ycbcr(v)[..., :1] for k, v in batch.items()}
            if pre_upsample:
                batch = dict(batch, lr=validate.model_input(batch["lr"], scale, True))
            placed = train_steps.put_batch(batch, mesh)
            if compiled_step is None:  # ahead of the first step, so its buffers do not stack on the compiler's
                compiled_step = hostmem.compile_and_release(step_fn, state, placed, vgg_params)
            state, metrics = compiled_step(state, placed, vgg_params)
            metrics = {k: float(v) for k, v in jax.device_get(metrics).items()}
            step += 1
            _check_finite(step, metrics, manager)
            for k, v in metrics.items():
                sums[k] = sums.get(k, 0.0) + v
            bar.update(1)
            bar.set_postfix(observe.format_postfix(step / spe, metrics), refresh=False)
            if step % tcfg.log_every == 0 or step == total:
                n = tcfg.log_every if step % tcfg.log_every == 0 else step % tcfg.log_every
                recorder.write(step, "train", {k: v / n for k, v in sums.items()})
                sums = {}
            checkpointing.save(manager, state, force=step == total)
            if val_ds is not None and tcfg.eval_every and step % tcfg.eval_every == 0 and step < total:
                run_validation(step)
    finally:
        bar.close()
    checkpointing.save(manager, state, force=True)
    manager.close()
    return _finish(config, workdir, state, kind, mcfg, start, step, val_ds, scale, run_validation, recorder, lead)


def _srcnn_init(module) -> dict[str, Any]:
    side = 16
    return module.init(jax.random.PRNGKey(0), jnp.zeros((1, side, side, module.num_channels)))["params"]


def _finish(config, workdir, state, kind, hparams, start, step, val_ds, scale, run_validation, recorder, lead):
    """Exports the generator (EMA when on), validates it against bicubic and draws the final figures."""
    params = jax.device_get(train_state.generator_params(state))
    export = workdir / "export"
    if lead:
        source = {"trained_by": "esrgan_jax.train", "step": step, "start": start, "ema": bool(state.has_ema)}
        save_model(export, kind, hparams, {"params": params}, source=source)
        print(f"exported the {'EMA ' if state.has_ema else ''}generator to {export}")
    result: dict[str, Any] = {"start": start, "step": step, "export": str(export)}
    if val_ds is not None:
        scores = run_validation(step)
        bicubic = validate.bicubic_scores(val_ds, scale, config.data.val_images)
        n = len(val_ds) if config.data.val_images <= 0 else min(config.data.val_images, len(val_ds))
        table = validate.format_table({"bicubic": bicubic, workdir.name: scores}, val_ds.name, n)
        result.update(val=scores, bicubic=bicubic, table=table)
        if lead:
            print(table)
            atomic_write(workdir / "eval.md", table + "\n")
    elif lead:
        observe.plot_curves(workdir)
    recorder.close()
    return result


def resolve_config_path(name: str) -> str:
    """`--config NAME` -> configs/NAME.py; an existing path is kept."""
    if Path(name).is_file():
        return name
    stem = name[:-3] if name.endswith(".py") else name
    candidate = CONFIGS_DIR / f"{stem}.py"
    if candidate.is_file() and "/" not in stem:
        return str(candidate)
    names = sorted(p.stem for p in CONFIGS_DIR.glob("*.py") if p.stem not in ("__init__", "base"))
    raise UserError(f"--config {name}: no such config file; expected a path or one of {names}")


def _rewrite_config_arg(argv: list[str]) -> tuple[list[str], str | None]:
    """Resolves the value of --config in argv (both `--config X` and `--config=X`); returns (argv, config name)."""
    out, name = list(argv), None
    for i, arg in enumerate(out):
        if arg == "--config" and i + 1 < len(out):
            name = out[i + 1]
            out[i + 1] = resolve_config_path(name)
        elif arg.startswith("--config="):
            name = arg.split("=", 1)[1]
            out[i] = "--config=" + resolve_config_path(name)
    return out, (Path(name).stem if name else None)


def main(argv: list[str] | None = None) -> int:
    """Parses flags (absl + ml_collections config_flags) and runs `train_and_evaluate`."""
    from absl import flags
    from ml_collections import config_flags

    from esrgan_jax.compile_cache import enable_compilation_cache

    devices.use_cpu_cores()  # before anything starts JAX's backends
    argv, name = _rewrite_config_arg(sys.argv if argv is None else argv)
    if name is None:
        raise UserError("--config: required (a config name such as demo, mse, perceptual, or a path)")
    fv = flags.FlagValues()
    config_flags.DEFINE_config_file("config", None, "Training config file.", lock_config=True, flag_values=fv)
    flags.DEFINE_string("workdir", None, "Working directory (default: runs/<config name>).", flag_values=fv)
    # config_flags reads the --config.KEY overrides from sys.argv itself, so it must hold the same argv.
    saved, sys.argv = sys.argv, argv
    try:
        fv(argv)
    except (flags.Error, AttributeError, KeyError, ValueError) as e:
        raise UserError(str(e).splitlines()[0]) from None
    finally:
        sys.argv = saved
    workdir = fv.workdir or os.path.join("runs", name)
    enable_compilation_cache()  # a second run (or a resume) loads the compiled step instead of rebuilding it
    result = train_and_evaluate(fv.config, workdir)
    print(json.dumps({k: v for k, v in result.items() if k != "table"}))
    return 0


if __name__ == "__main__":
    run_cli(main)
