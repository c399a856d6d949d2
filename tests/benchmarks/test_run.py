"""Smoke test of the benchmark harness (benchmarks/): the `--quick` path on a tiny model, end to end.

No timing is asserted (house rule: speed claims live in benchmarks/RESULTS.md). What is checked: the MAC count
against ESRGAN's published size, the JSON schema, and that the JAX and PyTorch workers computed the same
forward output and the same sequence of training losses from the same weights; and that `compile_memory --quick`
runs both modes.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from benchmarks.common import report
from benchmarks.common.cases import macs_per_lr_pixel
from benchmarks.cpu import run

REPO = Path(__file__).resolve().parents[2]
TINY = ["--num-feat", "8", "--num-block", "1", "--num-grow-ch", "4"]


def test_macs_per_lr_pixel_matches_esrgan_anchor():
    # esrgan-facts.md section 7: 17.93 M MACs per LR pixel, 16.53 M of them in the 23-block trunk.
    assert macs_per_lr_pixel(64, 23, 32) == 17_926_848
    assert macs_per_lr_pixel(64, 23, 32) - macs_per_lr_pixel(64, 0, 32) == 16_533_504


def test_quick_run_on_tiny_model_writes_schema_and_frameworks_agree(tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert run.main(["--quick", "--kinds", "forward,train,api", "--json", str(out), *TINY]) == 0
    result = json.loads(out.read_text())
    assert result["schema"] == report.SCHEMA
    assert result["model"] == {"num_feat": 8, "num_block": 1, "num_grow_ch": 4}
    assert result["machine"]["cores"] >= 1 and result["machine"]["versions"]["jax"]
    assert [r["case"]["kind"] for r in result["rows"]] == ["forward", "train", "api"]
    assert len(result["init"]["jax_init_s"]) == 1
    for row in result["rows"]:
        assert set(report.ROW_KEYS) <= set(row)
        for side in ("jax", "torch"):
            assert set(report.SIDE_KEYS) <= set(row[side])
            assert len(row[side]["times_s"]) == row["case"]["reps"]
            assert row[side]["peak_rss_mb"] > 0
        assert row["ratio"] == row["jax"]["median_s"] / row["torch"]["median_s"]
        # Same weights, same inputs: same network output / same Adam trajectory (losses of 3 steps).
        assert row["max_abs_diff"] < 1e-5, row["case"]["name"]
    # The printed table has one line per row.
    printed = capsys.readouterr().out
    assert all(f"| {r['case']['name']} |" in printed for r in result["rows"])


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
