"""`python -m benchmarks.memory.train [--json OUT] -- TRAIN ARGS`: where a training run's resident memory goes.

Runs `python -m esrgan_jax.train TRAIN ARGS` inside this process while a thread samples the resident set (RSS)
every 0.2 s, and marks the phases of the run: the training state built, each validation, the train step's
compile, each checkpoint written, the export at the end. It prints one row per mark (seconds since start, RSS
at the mark, the peak since the previous mark) and the peak of the whole run; `--json` writes the rows and every
sample. The docs' memory numbers for the GAN fine-tune come from it, e.g.

    python -m benchmarks.memory.train --json perceptual_memory.json -- --config perceptual_esrgan \\
        --config.train.steps=80 --config.train.eval_every=20 --config.train.save_every=20 ...

Run it as its own process: the train CLI sets up the devices and malloc for the whole process.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

SAMPLE_S = 0.2


def rss_mib() -> float:
    """This process's resident set in MiB (Linux /proc)."""
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS")) / 1024


class Sampler:
    """RSS samples every `SAMPLE_S` seconds in a thread, and named marks with the peak since the previous mark."""

    def __init__(self):
        self.t0 = time.perf_counter()
        self.samples: list[tuple[float, float]] = []
        self.marks: list[dict[str, Any]] = []
        self._since = 0  # index of the first sample after the previous mark
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _now(self) -> float:
        return round(time.perf_counter() - self.t0, 2)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append((self._now(), rss_mib()))
            self._stop.wait(SAMPLE_S)

    def start(self) -> Sampler:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def mark(self, name: str) -> None:
        now = rss_mib()
        peak = max([r for _, r in self.samples[self._since :]] + [now])
        self._since = len(self.samples)
        self.marks.append({"t_s": self._now(), "mark": name, "rss_mib": round(now), "peak_since_last_mib": round(peak)})

    def table(self) -> str:
        lines = ["| s | mark | RSS MiB | peak since the previous mark |", "|---|---|---|---|"]
        lines += [f"| {m['t_s']:.1f} | {m['mark']} | {m['rss_mib']} | {m['peak_since_last_mib']} |" for m in self.marks]
        return "\n".join(lines) + f"\n\npeak RSS of the run: {round(self.peak())} MiB"

    def peak(self) -> float:
        """The highest RSS up to the last mark (each mark's window covers the samples since the previous one)."""
        return max(m["peak_since_last_mib"] for m in self.marks)


def _wrap(owner: Any, attr: str, sampler: Sampler, name: str, keep: Callable[[Any], bool] = lambda _: True) -> None:
    """Marks `name` before and after each call of `owner.attr` (after only, for calls whose result `keep` rejects)."""
    inner = getattr(owner, attr)

    def wrapped(*args, **kwargs):
        before, since = len(sampler.marks), sampler._since
        sampler.mark(f"{name} starts")
        result = inner(*args, **kwargs)
        if keep(result):
            sampler.mark(f"{name} done")
        else:  # e.g. a checkpoint save that wrote nothing: no row, and the next row's peak covers this call
            del sampler.marks[before:]
            sampler._since = since
        return result

    setattr(owner, attr, wrapped)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.memory.train", description=__doc__.split("\n\n")[0])
    p.add_argument("--json", type=Path, help="write the marks and samples here")
    p.add_argument("train_args", nargs=argparse.REMAINDER, help="-- then the arguments of esrgan_jax.train")
    args = p.parse_args(argv)
    train_args = args.train_args[1:] if args.train_args[:1] == ["--"] else args.train_args

    sampler = Sampler().start()
    from esrgan_jax import compilation, train
    from esrgan_jax.training import checkpoints, monitor, trainer, validation

    _wrap(trainer, "initial_state", sampler, "training state")
    _wrap(validation.Validator, "run", sampler, "validation")
    _wrap(compilation, "compile_and_release", sampler, "train step compile")
    _wrap(checkpoints, "save", sampler, "checkpoint", keep=bool)
    _wrap(monitor.Monitor, "finish", sampler, "export")
    try:
        code = train.main(["esrgan_jax.train", *train_args])
    finally:
        sampler.mark("end")
        sampler.stop()
    print(sampler.table())
    if args.json:
        result = {"train_args": train_args, "peak_rss_mib": round(sampler.peak()), "marks": sampler.marks}
        args.json.write_text(json.dumps({**result, "samples": sampler.samples}) + "\n")
    return code


if __name__ == "__main__":
    raise SystemExit(main())
