"""The fine-tuning study's report (start, selected and last validation of each run, read from its workdir), its
ablation's commands and table, and how a second call of the study skips runs already trained."""

from __future__ import annotations

import json

from esrgan_jax.models.store import save_model
from experiments.finetune_study import ablation, study
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


def test_ablation_runs_add_one_change_and_a_seed_to_the_perceptual_command():
    runs = ablation.ablation_runs(["--config", "perceptual"])
    assert ablation.MAIN_RUN not in runs  # the vgg row's seed 0 is the study's own perceptual run
    others = [f"ablation-{row}-s{s}" for row in ("gan", "gan-warmup") for s in (0, 1, 2)]
    assert sorted(runs) == sorted(["ablation-l1-s0", "ablation-vgg-s1", "ablation-vgg-s2", *others])
    assert runs["ablation-gan-warmup-s2"] == [
        "--config", "perceptual", "--config.loss.gan_weight=5e-3", "--config.optim.d_warmup=40",
        "--config.train.seed=2",
    ]  # fmt: skip


def test_ablation_table_reports_the_exported_step_and_mean_and_sd_over_seeds(tmp_path):
    _workdir(tmp_path, ablation.MAIN_RUN, {0: 27.0, 80: 28.0, 160: 27.5}, selected=80)
    _workdir(tmp_path, "ablation-gan-s0", {0: 27.0, 160: 28.0}, selected=160)
    _workdir(tmp_path, "ablation-gan-s1", {0: 27.0, 160: 29.0}, selected=160)
    _workdir(tmp_path, "ablation-gan-s2", {0: 27.0, 160: 30.0}, selected=0)  # exported its start
    entry = lambda v: {"psnr_y": v, "ssim_y": v / 100, "lpips": v / 1000, "color_drift_rgb": 1.0}  # noqa: E731
    summary = {"results": {
        "x4plus": {"Set5": entry(26.0)},
        ablation.MAIN_RUN: {"Set5": entry(30.0)},
        "ablation-gan-s0": {"Set5": entry(28.0)},
        "ablation-gan-s1": {"Set5": entry(29.0)},
        "ablation-gan-s2": {"Set5": entry(33.0)},
    }}  # fmt: skip
    lines = ablation.table(tmp_path, summary)
    assert lines[2:4] == [
        "| x4plus as converted | - | val (10 crops) | 27.00 | - | - | 0.00 |",
        "| x4plus as converted | - | Set5 | 26.00 | 0.2600 | 0.0260 | 1.00 |",
    ]
    assert lines[4:] == [
        "| + five VGG16 layers (the `perceptual` config) | 0 | val (10 crops) | 28.00 | - | - | 0.80 |",
        "| + five VGG16 layers (the `perceptual` config) | 0 | Set5 | 30.00 | 0.3000 | 0.0300 | 1.00 |",
        "| + RaGAN 5e-3 | 0,1,2 | val (10 crops) | 28.00 ± 1.00 | - | - | 1.07 ± 0.92 |",
        "| + RaGAN 5e-3 | 0,1,2 | Set5 | 30.00 ± 2.65 | 0.3000 ± 0.0265 | 0.0300 ± 0.0026 | 1.00 ± 0.00 |",
    ]


def test_train_once_trains_records_its_time_and_is_skipped_next_time(tmp_path, monkeypatch):
    runs, logs = tmp_path / "runs", tmp_path / "logs"
    logs.mkdir()
    calls = []

    def fake_run(args, log):
        calls.append(args)
        _workdir(runs, "mse-trunk", {0: 27.0, 100: 28.0}, selected=100)
        return {"wall_s": 61.0, "peak_rss_mib": 1900}

    runs.mkdir()
    monkeypatch.setattr(study, "run_timed", fake_run)
    timed = study.train_once("mse-trunk", ["--config", "mse"], runs, logs)
    assert timed == {"wall_s": 61.0, "peak_rss_mib": 1900}
    assert calls == [["esrgan_jax.train", "--config", "mse", "--workdir", str(runs / "mse-trunk")]]
    assert study.train_once("mse-trunk", ["--config", "mse"], runs, logs) == timed and len(calls) == 1
    (logs / "mse-trunk.json").unlink()  # an export without a recorded time (an interrupted study): trained again
    monkeypatch.setattr(study, "run_timed", lambda args, log: calls.append(args) or {"wall_s": 1.0})
    assert study.train_once("mse-trunk", ["--config", "mse"], runs, logs) == {"wall_s": 1.0} and len(calls) == 2


def test_time_rows_mark_a_run_trained_by_an_earlier_command():
    assert study.time_row("srcnn", {"wall_s": 907.4, "peak_rss_mib": 813}) == "| srcnn | 15.1 min | 813 MiB |"
    reused = {"wall_s": 699.5, "peak_rss_mib": None, "reused_from": "trial"}
    assert (
        study.time_row("ablation-vgg-s1", reused)
        == "| ablation-vgg-s1 (an earlier run of the same command) | 11.7 min | - |"
    )
