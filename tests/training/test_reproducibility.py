"""Same command, same numbers: a tiny GAN fine-tune run in separate processes, as `python -m esrgan_jax.train`
runs it (one JAX device per core, the persistent compilation cache, malloc kept), gives bitwise equal metrics and
exported parameters, and the first N steps of a longer run are a run of N steps."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import jax
import numpy as np

from esrgan_jax.models.store import load_variables

REPO = Path(__file__).resolve().parents[2]

RUN = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from esrgan_jax.cli import setup_jax
    from esrgan_jax.compilation import keep_freed_host_memory
    setup_jax(); keep_freed_host_memory()  # what the train command does before JAX starts
    from esrgan_jax.training.trainer import train_and_evaluate
    from testkit.train_assets import tiny_config
    steps, assets, workdir = int(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
    config = tiny_config("perceptual_esrgan", assets, steps=steps, eval_every=2)
    config.data.batch_size = 1  # one image over both devices: the generator's batch is split by rows
    train_and_evaluate(config, workdir)
    """
)


def _train(assets: Path, steps: int, workdir: Path, cache: Path) -> list[dict]:
    env = {k: v for k, v in os.environ.items() if k not in ("XLA_FLAGS", "ESRGAN_JAX_CPU_DEVICES")}
    env.update(JAX_PLATFORMS="cpu", ESRGAN_JAX_CPU_DEVICES="2", ESRGAN_JAX_CACHE_DIR=str(cache))
    proc = subprocess.run(
        [sys.executable, "-c", RUN, str(steps), str(assets), str(workdir)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = [json.loads(line) for line in (workdir / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in r.items() if k not in ("wall_s", "cpu_s")} for r in rows]  # timings differ


def _exported(workdir: Path) -> list[np.ndarray]:
    return [np.asarray(x) for x in jax.tree.leaves(load_variables(workdir / "export_last"))]


def test_identical_runs_and_a_longer_runs_beginning_are_bitwise_equal(assets, tmp_path):
    cache = tmp_path / "cache"
    runs = {name: _train(assets, steps, tmp_path / name, cache) for name, steps in
            (("4a", 4), ("4b", 4), ("8a", 8), ("8b", 8))}  # fmt: skip
    train = {name: [r for r in rows if r["split"] == "train"] for name, rows in runs.items()}
    assert [r["step"] for r in train["8a"]] == [1, 2, 3, 4, 5, 6, 7, 8]
    assert {"l_d_real", "l_d_fake", "l_g_gan", "l_g_pix", "l_g_percep"} <= set(train["8a"][0])  # a GAN run
    assert runs["4a"] == runs["4b"] and runs["8a"] == runs["8b"]  # every row, validations included
    assert train["8a"][:4] == train["4a"]  # steps 1-4 of the 8-step run are the 4-step run
    for x, y in zip(_exported(tmp_path / "4a"), _exported(tmp_path / "4b"), strict=True):
        np.testing.assert_array_equal(x, y)
    for x, y in zip(_exported(tmp_path / "8a"), _exported(tmp_path / "8b"), strict=True):
        np.testing.assert_array_equal(x, y)
