"""SIGKILL at any point never leaves a partial file under a final name: upscale, evaluate, export and conversion.

Each command runs in a child process (`_CHILD`) that SIGKILLs itself just before its Nth rename (`os.replace`,
`os.rename` or the folder swap of `fileio.replace_dir`), what puts a finished temporary file or folder in place,
or after a seeded random delay (a kill in the middle of writing). After the kill, every file under a final name
(no path component starting with ".", the temporary siblings' prefix) must equal what an uninterrupted run
writes, and an output that existed before the run must still be there, old or new, never missing or mixed.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import jax
import numpy as np
import pytest
import torch

from esrgan_jax.image.io import write_image
from esrgan_jax.models.store import load_variables
from testkit.flax_models import make_model_dir
from testkit.torch_models import RRDBNetTorch, randomize_

REPO = Path(__file__).resolve().parents[1]
# Counts the renames; kills itself before the Nth (N = 0: never), or after DELAY seconds; prints the count.
_CHILD = """
import os, runpy, signal, sys, threading, atexit
import esrgan_jax.fileio as fileio
n, delay, module, argv = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3], sys.argv[4:]
count = [0]
def counted(real):
    def rename(*args, **kw):
        count[0] += 1
        if count[0] == n:
            os.kill(os.getpid(), signal.SIGKILL)
        return real(*args, **kw)
    return rename
os.replace, os.rename, fileio._exchange = counted(os.replace), counted(os.rename), counted(fileio._exchange)
if delay > 0:
    threading.Timer(delay, lambda: os.kill(os.getpid(), signal.SIGKILL)).start()
atexit.register(lambda: print(f"renames {count[0]}", file=sys.stderr))
sys.argv = [module, *argv]
runpy.run_module(module, run_name="__main__", alter_sys=True)
"""


def _run(module: str, args: list, kill_at: int = 0, delay: float = 0.0) -> tuple[int, int, float]:
    """(return code, renames done, seconds) of `python -m module args` under `_CHILD`."""
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, str(kill_at), str(delay), module, *map(str, args)],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, "JAX_PLATFORMS": "cpu"},
        timeout=300,
    )
    found = [line for line in proc.stderr.splitlines() if line.startswith("renames ")]
    return proc.returncode, int(found[-1].split()[1]) if found else -1, time.perf_counter() - start


def _final(root: Path) -> dict[str, Path]:
    """Files under final names below `root` (no component starting with "."), by relative path."""
    return {
        str(p.relative_to(root)): p
        for p in root.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(root).parts)
    }


def _same_file(a: Path, b: Path) -> bool:
    if a.suffix == ".pth":  # torch's zip records vary in layout details; compare the tensors
        return _same_tree(torch.load(a, weights_only=True), torch.load(b, weights_only=True))
    return a.read_bytes() == b.read_bytes()


def _same_tree(x, y) -> bool:
    if isinstance(x, dict):
        return isinstance(y, dict) and x.keys() == y.keys() and all(_same_tree(x[k], y[k]) for k in x)
    return isinstance(y, torch.Tensor) and torch.equal(x, y)


def _check(out: Path, ref: Path, old: dict[str, bytes], models: dict[str, Path]) -> None:
    """Every final file under `out` equals the reference run's, or is an untouched pre-existing one; every
    pre-existing file is still there; each model directory (name -> the one that was there before) is whole:
    it loads to the reference's variables or to the old one's."""
    got, want = _final(out), _final(ref)
    for rel, path in got.items():
        if rel.split("/")[0] in models:
            continue
        assert (rel in old and path.read_bytes() == old[rel]) or (rel in want and _same_file(path, want[rel])), rel
    for rel in old:
        assert rel in got, f"{rel}: an output that existed before the run is missing"
    for name, before in models.items():
        assert (out / name / "model.json").is_file(), f"{name}: the model directory is missing or incomplete"
        new = json.loads((out / name / "model.json").read_text()) == json.loads((ref / name / "model.json").read_text())
        want_vars = load_variables(ref / name if new else before)[1]
        jax.tree.map(np.testing.assert_array_equal, load_variables(out / name)[1], want_vars)


def _inputs(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    for i in range(4):
        write_image(tmp_path / "in" / f"im{i}.png", rng.integers(0, 256, (48, 48, 3)).astype(np.uint8))
    return tmp_path / "in"


def _commands(tmp_path: Path) -> dict:
    """name -> (module, its arguments given the output folder OUT)."""
    images = _inputs(tmp_path)
    model = make_model_dir(tmp_path / "models", "x1")
    sd = randomize_(RRDBNetTorch(num_feat=8, num_block=1, num_grow_ch=4), seed=1).state_dict()
    torch.save(sd, tmp_path / "g.pth")
    return {
        "upscale": ("esrgan_jax.upscale", lambda out: [images, "--weights", model, "-o", out, "--overwrite"]),
        "evaluate": ("esrgan_jax.evaluate", lambda out: ["--data", images, "--method", "bicubic", "--out", out]),
        "export": ("weights_conversion.export", lambda out: [model, out / "g.pth", "--overwrite"]),
        "conversion": ("weights_conversion", lambda out: [tmp_path / "g.pth", out / "model"]),
    }


def _previous_outputs(name: str, out: Path, tmp_path: Path) -> dict[str, Path]:
    """What a user already has in OUT: an older result under the same names and an unrelated file; returns the
    model directories among them (name in OUT -> a copy of the old one)."""
    out.mkdir(parents=True)
    (out / "notes.txt").write_text("keep me\n")
    if name == "upscale":
        write_image(out / "im0_out.png", np.zeros((48, 48, 3), np.uint8))
    elif name == "export":
        torch.save({"old": torch.zeros(2)}, out / "g.pth")
    elif name == "conversion":
        before = tmp_path / "before" / "x1"
        if not before.exists():
            make_model_dir(tmp_path / "before", "x1", seed=5)
        shutil.copytree(before, out / "model")
        return {"model": before}
    return {}


@pytest.mark.parametrize("name", ["upscale", "evaluate", "export", "conversion"])
def test_sigkill_never_leaves_a_partial_output(name, tmp_path):
    module, args = _commands(tmp_path)[name]
    ref = tmp_path / "ref"  # an uninterrupted run over the same earlier outputs: what each final name must hold
    _previous_outputs(name, ref, tmp_path)
    code, renames, seconds = _run(module, args(ref))
    assert code == 0 and renames >= 1, (code, renames)  # every output is renamed into place
    # The last two renames put the outputs in place (a model directory replaced in two steps would be caught at
    # the last), and a random moment catches a file in the middle of being written.
    rng = random.Random(name)
    kills = [(n, 0.0) for n in sorted({max(renames - 1, 1), renames})] + [(0, rng.uniform(0.3, 1.0) * seconds)]
    for i, (kill_at, delay) in enumerate(kills):
        out = tmp_path / f"out{i}"
        models = _previous_outputs(name, out, tmp_path)
        old = {rel: p.read_bytes() for rel, p in _final(out).items() if rel.split("/")[0] not in models}
        code, _, _ = _run(module, args(out), kill_at, delay)
        assert code in (-signal.SIGKILL, 0), code
        _check(out, ref, old, models)
