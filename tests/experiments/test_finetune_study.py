"""The fine-tuning study's report: start, selected and last validation of each run, read from its workdir."""

from __future__ import annotations

import json

from esrgan_jax.models.store import save_model
from experiments.finetune_study.study import progress_table
from tests.support import HP, tiny


def _workdir(root, name, psnrs, selected):
    workdir = root / name
    workdir.mkdir()
    rows = [{"step": 0, "split": "train", "loss": 1.0}]
    rows += [{"step": s, "split": "val", "psnr_y": p, "color_drift_rgb": s / 100} for s, p in psnrs.items()]
    (workdir / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    _, params = tiny()
    source = {"step": selected, "select": "psnr_y", "score": psnrs[selected]}
    save_model(workdir / "export", "rrdbnet", HP, {"params": params}, source=source)


def test_progress_table_names_start_selected_and_last_step(tmp_path):
    _workdir(tmp_path, "mse", {0: 23.0, 100: 25.5, 200: 25.25}, selected=100)
    (tmp_path / "unfinished").mkdir()  # no export/: left out
    lines = progress_table(tmp_path)
    assert lines[2:] == [
        "| mse | start | 0 | 23.00 | - | - | - | 0.00 |",
        "| mse | selected (psnr_y) | 100 | 25.50 | - | - | - | 1.00 |",
        "| mse | last | 200 | 25.25 | - | - | - | 2.00 |",
    ]
