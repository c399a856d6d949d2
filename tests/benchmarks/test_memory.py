"""The memory benchmarks (`benchmarks/memory/`) on tiny runs: `compile --quick` compiles once per size in both
modes, `train` marks every phase of a training command and samples its RSS, and `swinir --quick` measures a whole
and a tiled SwinIR upscale. No number is asserted beyond what makes the output usable (house rule: the
measurements live in benchmarks/RESULTS.md)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_compile_memory_quick_run_compiles_once_per_size_in_each_mode(tmp_path, capsys):
    from benchmarks.memory import compile as compile_memory

    out = tmp_path / "compile_memory.json"
    assert compile_memory.main(["--quick", "--json", str(out)]) == 0
    results = json.loads(out.read_text())["results"]
    assert [r["mode"] for r in results] == ["capped", "kept"]
    assert results[0]["capacity"] == 8 and results[1]["capacity"] > 8
    for r in results:  # three distinct sizes: three compiles, an RSS reading after each
        assert r["compilations"] == 3 and [row["size"] for row in r["rows"]] == [[80, 120], [120, 80], [84, 124]]
        assert all(row["rss_mib"] > 0 for row in r["rows"])
    assert len(capsys.readouterr().out.strip().splitlines()) == 2 + 1 + 3  # header, rule, start, one per image


def test_train_memory_marks_every_phase_of_a_tiny_run(tmp_path):
    # Its own process, as documented: the train CLI sets up devices and malloc for the whole process.
    out, workdir = tmp_path / "memory.json", tmp_path / "run"
    tiny = ["--config.model.num_feat=8", "--config.model.num_block=1", "--config.model.num_grow_ch=8"]
    tiny += ["--config.data.batch_size=2", "--config.data.lr_patch=16", "--config.data.val_images=1"]
    tiny += ["--config.train.steps=4", "--config.train.save_every=2", "--config.train.eval_every=2"]
    argv = [sys.executable, "-m", "benchmarks.memory.train", "--json", str(out), "--", "--config", "demo"]
    proc = subprocess.run([*argv, "--workdir", str(workdir), *tiny], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    result = json.loads(out.read_text())
    names = [m["mark"] for m in result["marks"]]
    # the step compiles from shapes before the training state exists, so their peaks do not add up
    assert names[:4] == ["train step compile starts", "train step compile done", "training state starts",
                         "training state done"] and names[-1] == "end"  # fmt: skip
    assert names.count("checkpoint done") == 2 and names.count("validation done") == 2  # steps 2 and 4
    assert names.count("train step compile done") == 1 and "export done" in names
    assert (workdir / "export" / "model.json").exists()
    peaks = [m["peak_since_last_mib"] for m in result["marks"]]
    assert result["peak_rss_mib"] == max(peaks) >= max(m["rss_mib"] for m in result["marks"]) > 100
    assert "| train step compile done |" in proc.stdout and "peak RSS of the run:" in proc.stdout


def test_swinir_memory_quick_run_measures_a_whole_and_a_tiled_upscale(tmp_path, capsys):
    from benchmarks.memory import swinir

    out = tmp_path / "swinir_memory.json"
    assert swinir.main(["--quick", "--out", str(out)]) == 0
    rows = json.loads(out.read_text())["rows"]
    assert [(r["model"], r["side"], r["tile"]) for r in rows] == [("light", 64, 0), ("light", 192, 32)]
    assert all(r["peak_rss_mib"] > r["rss_before_mib"] > 0 and r["seconds"] > 0 for r in rows)
    assert len(capsys.readouterr().out.strip().splitlines()) == 1 + 2 + 1  # header, one per case, "wrote"
