"""The training command: `python -m esrgan_jax.train`, over `esrgan_jax.training.trainer.train_and_evaluate`.

  python -m esrgan_jax.train --config NAME_OR_PATH [--workdir DIR] [--config.KEY=VALUE ...]

`--config demo` means the repository's `configs/demo.py`, installed as the package `esrgan_jax.configs`; the workdir
defaults to `runs/<config name>`.

Several hosts: start the same command on every host under a cluster launcher (SLURM `srun`, `mpirun`, or with
JAX_COORDINATOR_ADDRESS / JAX_NUM_PROCESSES / JAX_PROCESS_ID set); `jax.distributed.initialize()` picks it up and
each process reads its own shard of the data.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path

from esrgan_jax.cli import setup_jax
from esrgan_jax.compilation import keep_freed_host_memory
from esrgan_jax.errors import UserError, run_cli
from esrgan_jax.sharding import maybe_initialize_distributed
from esrgan_jax.training.monitor import COLLAPSE_EXIT_CODE
from esrgan_jax.training.trainer import NonFiniteLossError, train_and_evaluate

__all__ = ["NonFiniteLossError", "main", "maybe_initialize_distributed", "resolve_config_path", "train_and_evaluate"]


def _configs_dir() -> Path:
    """The folder of the named configs: the installed package `esrgan_jax.configs` (in an editable install, the
    checkout's configs/), else the configs/ beside this package, for a checkout run without installing."""
    spec = importlib.util.find_spec("esrgan_jax.configs")
    if spec is not None and spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations)))
    return Path(__file__).resolve().parents[1] / "configs"


def resolve_config_path(name: str) -> str:
    """`--config NAME` -> the named config's file (NAME.py in the configs folder); an existing path is kept."""
    if Path(name).is_file():
        return name
    stem = name[:-3] if name.endswith(".py") else name
    folder = _configs_dir()
    candidate = folder / f"{stem}.py"
    if candidate.is_file() and "/" not in stem:
        return str(candidate)
    names = sorted(p.stem for p in folder.glob("*.py") if p.stem != "__init__")
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

    setup_jax()  # before anything starts JAX's backends; the compiled step is cached for the next run or a resume
    keep_freed_host_memory()  # each step's temporaries reuse the last step's memory instead of faulting in anew
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
    result = train_and_evaluate(fv.config, workdir)
    print(json.dumps({k: v for k, v in result.items() if k != "table"}))
    # A collapse stop wrote its checkpoint and exports, but the run is not healthy: scripts should notice.
    return COLLAPSE_EXIT_CODE if result["stopped"] == "collapse" else 0


if __name__ == "__main__":
    run_cli(main)
