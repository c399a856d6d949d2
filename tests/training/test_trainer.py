"""esrgan_jax/training/trainer.py end to end (`train_and_evaluate` on the tiny assets of tests/conftest.py): the
fine-tuning guards through a whole run. The step-0 baseline, the best step exported to export/ and the last to
export_last/, early stop (kept when the run is started again), a resume that keeps the best and the baseline,
and stop_on_collapse through `python -m esrgan_jax.train`'s exit code 4. Scripted validation scores (a patched
`Validator.run`) make the selection decisions exact; the last test uses real scores."""

from __future__ import annotations

import json
import math

import jax
import numpy as np
import pytest

from esrgan_jax import train
from esrgan_jax.errors import run_cli
from esrgan_jax.models.store import load_variables, read_meta, save_model
from esrgan_jax.training.validation import Validator
from testkit.train_assets import TINY_G
from testkit.train_assets import tiny_config as tiny
from tests.support import tiny as tiny_model


def _val_steps(workdir) -> list[int]:
    rows = [json.loads(line) for line in (workdir / "metrics.jsonl").read_text().splitlines()]
    return [r["step"] for r in rows if r["split"] == "val"]


def _script(monkeypatch, scores: list[float]) -> list[int]:
    """Validator.run returns real rows but the next scripted PSNR-Y; returns the list of calls made."""
    real, calls = Validator.run, []

    def run(self, params, figure=None):
        means, rows = real(self, params, figure)
        calls.append(len(calls))
        return {**means, "psnr_y": scores[len(calls) - 1]}, rows

    monkeypatch.setattr(Validator, "run", run)
    return calls


def test_early_stop_fires_at_the_right_validation(assets, tmp_path, monkeypatch, capsys):
    # baseline 25, then steps 1..: best at 2; patience 2 runs out at step 4 of 6
    _script(monkeypatch, [25.0, 20.0, 21.0, 20.5, 20.7, 30.0, 30.0])
    result = train.train_and_evaluate(tiny("mse", assets, steps=6, eval_every=1, patience=2), tmp_path)
    out = capsys.readouterr().out
    assert (result["step"], result["stopped"], result["selected_step"]) == (4, "patience", 2)
    assert "early stop at step 4: psnr_y has not improved for 2 validation(s) since step 2" in out
    assert _val_steps(tmp_path) == [0, 1, 2, 3, 4]
    assert read_meta(tmp_path / "export")["source"]["step"] == 2 and read_meta(tmp_path / "best")["source"]["step"] == 2
    assert read_meta(tmp_path / "export_last")["source"]["step"] == 4
    md = (tmp_path / "eval.md").read_text()
    assert "selected by psnr_y: step 2 (21.00 dB) -> export/; last: step 4 (20.70 dB) -> export_last/" in md
    assert "warning: the exported model (step 2) is worse than the starting model on psnr_y: 21.00 dB vs 25.00 dB" in md
    assert f"| {tmp_path.name}_last |" in md and "stopped early at step 4" in md
    # started again, the run stays stopped instead of training on
    again = train.train_and_evaluate(tiny("mse", assets, steps=6, eval_every=1, patience=2), tmp_path)
    assert (again["step"], again["stopped"]) == (4, "patience")


def test_resume_keeps_the_best_and_the_baseline(assets, tmp_path, monkeypatch):
    _script(monkeypatch, [20.0, 22.0, 21.0, 21.5, 21.8, 21.9, 0.0])  # the last: step 1 rescored
    first = train.train_and_evaluate(tiny("mse", assets, steps=3, eval_every=1), tmp_path)
    assert first["selected_step"] == 1
    _, best_1 = load_variables(tmp_path / "best")
    resumed = train.train_and_evaluate(tiny("mse", assets, steps=5, eval_every=1), tmp_path)
    assert (resumed["start"], resumed["selected_step"], resumed["baseline"]["psnr_y"]) == ("resume", 1, 20.0)
    assert _val_steps(tmp_path) == [0, 1, 2, 3, 4, 5]  # one baseline row, kept
    _, exported = load_variables(tmp_path / "export")
    jax.tree.map(np.testing.assert_array_equal, exported, best_1)
    _, last = load_variables(tmp_path / "export_last")
    assert not np.array_equal(
        last["params"]["body_0"]["rdb1"]["conv1"]["kernel"], exported["params"]["body_0"]["rdb1"]["conv1"]["kernel"]
    )


def test_stop_on_collapse_stops_cleanly_with_exit_code_4(assets, tmp_path, capsys):
    module, params = tiny_model(0, num_grow_ch=8)
    flat = jax.tree.map(np.zeros_like, params)  # every kernel zero, conv_last's bias 0.5: 0.5 gray everywhere
    flat["conv_last"]["bias"] = np.full_like(flat["conv_last"]["bias"], 0.5)
    hp = {k: v for k, v in TINY_G.items() if k != "kind"}
    save_model(tmp_path / "flat", "rrdbnet", hp, {"params": flat})
    wd = tmp_path / "run"
    argv = ["train", "--config", "mse", "--workdir", str(wd), f"--config.init.generator={tmp_path / 'flat'}"]
    argv += [f"--config.model.{k}={v}" for k, v in hp.items()]
    argv += [f"--config.data.{k}={v}" for k, v in dict(train=assets / "hr", val=assets / "hr", lr_patch=16).items()]
    argv += ["--config.data.train_split=", "--config.data.val_split=", "--config.data.val_images=1"]
    argv += ["--config.train.steps=6", "--config.train.eval_every=2", "--config.train.stop_on_collapse=True"]
    with pytest.raises(SystemExit) as e:
        run_cli(lambda: train.main(argv))
    out = capsys.readouterr().out
    assert e.value.code == 4
    # the starting model is flat too: warned at step 0, but only a trained step stops the run
    assert "warning: step 0: generator output collapsed" in out and "warning: step 2: generator output" in out
    assert "stopping at step 2: config.train.stop_on_collapse is set" in out
    assert (wd / "checkpoints" / "2").is_dir() and (wd / "export" / "model.json").is_file()
    assert "stopped at step 2: collapse detected" in (wd / "eval.md").read_text()


def test_fine_tune_end_to_end_baseline_best_and_last(assets, tmp_path, capsys):
    config = tiny("mse", assets, steps=4, eval_every=2)
    config.optim.lr = 3e-3  # large enough to move the tiny generator's scores in four steps
    result = train.train_and_evaluate(config, tmp_path)
    out = capsys.readouterr().out
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    val = {r["step"]: r["psnr_y"] for r in rows if r["split"] == "val"}
    assert list(val) == [0, 2, 4] and "baseline: the starting model scores psnr_y" in out
    best = max((2, 4), key=lambda s: (val[s], -s))
    assert result["selected_step"] == best and result["baseline"]["psnr_y"] == val[0]
    line = f"selected by psnr_y: step {best} ({val[best]:.2f} dB) -> export/; last: step 4 ({val[4]:.2f} dB)"
    assert line in out and line in (tmp_path / "eval.md").read_text()
    assert read_meta(tmp_path / "export")["source"]["step"] == best
    assert read_meta(tmp_path / "export_last")["source"]["step"] == 4
    worse = val[best] < val[0]
    assert ("is worse than the starting model" in out) == worse
    assert math.isfinite(result["val"]["color_drift_cbcr"]) and (tmp_path / "curves.png").stat().st_size > 0
