"""Two training processes on one machine, joined by `jax.distributed` (the multi-host path of esrgan_jax.train).

Each process is started as a cluster launcher would start one per host (JAX_COORDINATOR_ADDRESS,
JAX_NUM_PROCESSES, JAX_PROCESS_ID), reads its own shard of the data and holds one CPU device; the gradient
all-reduce crosses processes (gloo). Two steps of the global batch of 2 must give the parameters that one
process with both images per batch gives.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np

from esrgan_jax.models.store import load_variables

REPO = Path(__file__).resolve().parents[1]
TINY = ["--config.model.num_feat=8", "--config.model.num_block=1", "--config.model.num_grow_ch=8"]
TINY += ["--config.data.batch_size=2", "--config.data.lr_patch=16", "--config.data.val_images=1"]
TINY += ["--config.train.steps=2", "--config.train.save_every=1", "--config.train.log_every=1"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _train(workdir: Path, **env: str) -> subprocess.Popen:
    argv = [sys.executable, "-m", "esrgan_jax.train", "--config", "demo", "--workdir", str(workdir), *TINY]
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("JAX_", "SLURM_", "OMPI_", "XLA_"))}
    full = dict(clean, JAX_PLATFORMS="cpu", ESRGAN_JAX_CPU_DEVICES="1", **env)
    return subprocess.Popen(argv, cwd=REPO, env=full, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_two_processes_train_like_one(tmp_path):
    port = _free_port()
    procs = [
        _train(tmp_path / "multi", JAX_COORDINATOR_ADDRESS=f"127.0.0.1:{port}", JAX_NUM_PROCESSES="2", JAX_PROCESS_ID=i)
        for i in ("0", "1")
    ]
    single = _train(tmp_path / "single")
    logs = [p.communicate(timeout=600)[0] for p in (*procs, single)]
    for p, log in zip((*procs, single), logs, strict=True):
        assert p.returncode == 0, log[-3000:]
    assert "global batch 2 on 2 device(s)" in logs[0] and "global batch 2 on 1 device(s)" in logs[2]
    assert "exported the generator" in logs[0] and "exported the generator" not in logs[1]  # process 0 writes
    multi = load_variables(tmp_path / "multi" / "export")[1]
    one = load_variables(tmp_path / "single" / "export")[1]
    diffs = jax.tree.leaves(jax.tree.map(lambda a, b: float(np.abs(a - b).max()), multi, one))
    assert len(diffs) == 42 and max(diffs) < 1e-6, max(diffs)
