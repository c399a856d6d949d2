"""`python -m experiments.finetune_study.repeat_step --out runs/study`: is the study's perceptual step repeatable?

Builds the study's perceptual fine-tune of x4plus (its config, weights and training pairs; `--out` is the study's
folder, prepared on first use), compiles its train step as training does, and runs it `--reps` times for
`--steps` steps from the same state on the same batches. Prints, per repetition and step, short hashes of the
generator's and the discriminator's parameters and of D's BatchNorm statistics: identical rows mean a repeatable
step. `--d-rows` splits the discriminator's input by rows, as the step did before, to show the difference.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import time
from pathlib import Path
from typing import Any

import jax
import numpy as np


def _hash(tree: Any) -> str:
    return hashlib.sha1(b"".join(np.asarray(x).tobytes() for x in jax.tree.leaves(tree))).hexdigest()[:10]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m experiments.finetune_study.repeat_step", description=__doc__)
    p.add_argument("--out", default="runs/study", help="the study's output folder (weights and data)")
    p.add_argument("--reps", type=int, default=4, help="repetitions from the same state")
    p.add_argument("--steps", type=int, default=3, help="steps per repetition")
    p.add_argument("--d-rows", action="store_true", help="split D's input by rows (the earlier step)")
    args = p.parse_args(argv)

    from esrgan_jax.cli import setup_jax

    setup_jax()  # as the train command: one device per core
    from jax.sharding import NamedSharding, PartitionSpec

    from esrgan_jax import sharding
    from esrgan_jax.configs import perceptual
    from esrgan_jax.data.pipeline import train_batches
    from esrgan_jax.training import step as step_module
    from esrgan_jax.training.loop import compile_step, prepare_batch
    from esrgan_jax.training.preflight import check_config, find_sources
    from esrgan_jax.training.run import build_run
    from esrgan_jax.training.trainer import initial_state, state_builder
    from esrgan_jax.training.weights import load_weights
    from experiments.finetune_study.data import real_weights, study_sets

    out = Path(args.out).absolute()
    weights, data = real_weights(out / "weights"), study_sets(out / "data")
    config = perceptual.get_config()
    config.init.update(generator=str(weights["x4plus"]), vgg16=str(weights["vgg16"]))
    config.data.update(train=data["train"], train_split="", val="none")
    config.loss.perceptual_net = "vgg16"
    if args.d_rows:
        step_module.whole_images = lambda mesh, n: NamedSharding(mesh, PartitionSpec(None, sharding.AXIS))

    workdir = out / "repeat_step"
    shutil.rmtree(workdir, ignore_errors=True)
    kind, hparams = check_config(config)
    sources = find_sources(config, workdir, kind, hparams)
    run = build_run(config, workdir, kind, hparams)
    vgg = load_weights(sources, "vgg")[0]
    shapes = sharding.shapes(jax.eval_shape(state_builder(run)), sharding.replicated(run.mesh))
    step = compile_step(run, shapes, vgg)
    start = jax.device_get(initial_state(run, sources)[0])
    vgg = sharding.put_replicated(vgg, run.mesh)
    batches = train_batches(run.train_ds, lr_patch=config.data.lr_patch, batch_size=1, seed=0, epochs=None)
    placed = [sharding.put_batch(prepare_batch(run, next(batches)), run.mesh) for _ in range(args.steps)]
    print(f"{run.mesh.devices.size} device(s); D input split by {'rows' if args.d_rows else 'images'}")
    times = []
    for rep in range(args.reps):
        state, cells = sharding.put_replicated(start, run.mesh), []
        for batch in placed:
            t0 = time.perf_counter()
            state, _ = step(state, batch, vgg)
            jax.block_until_ready(state)
            times.append(time.perf_counter() - t0)
            cells.append(f"G {_hash(state.g_params)} D {_hash(state.d_params)} BN {_hash(state.d_batch_stats)}")
        print(f"rep {rep}: " + " | ".join(cells), flush=True)
    print(f"median step {np.median(times[1:]):.2f} s (first step of the first rep left out)")
    shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
