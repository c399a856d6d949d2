"""esrgan_jax/training/selection.py: the best step on a metric (higher or lower is better, ties keep the earlier
step, non-finite scores never win), patience, the history rebuilt from metrics.jsonl rows, and WORKDIR/best."""

from __future__ import annotations

import json

import numpy as np
import pytest

from esrgan_jax.models.store import load_variables
from esrgan_jax.training.selection import Selection, best_record, format_score, save_best, val_history
from tests.support import HP, tiny


def test_selection_on_scripted_scores():
    sel = Selection("psnr_y", patience=2)
    for step, score, best, stop in [(10, 27.0, 10, False), (20, 27.5, 20, False), (30, 27.5, 20, False)]:
        sel.add(step, score)
        assert (sel.best_step, sel.should_stop) == (best, stop)
    assert sel.add(40, float("nan")) is False and (sel.best_step, sel.since_best, sel.should_stop) == (20, 2, True)
    lp = Selection("lpips")
    assert [lp.add(s, v) for s, v in [(1, 0.30), (2, 0.21), (3, 0.25)]] == [True, True, False]
    assert (lp.best_step, lp.best_score) == (2, 0.21)
    last = Selection(None, patience=1)
    assert [last.add(s, v) for s, v in [(1, 30.0), (2, 20.0)]] == [True, True] and not last.should_stop
    with pytest.raises(ValueError, match=r"^Selection.add: step 0: step 0 is the baseline, not a candidate$"):
        sel.add(0, 30.0)


def test_no_finite_score_has_no_best_and_counts_every_validation():
    sel = Selection("psnr_y", patience=3)
    assert (sel.best_step, sel.best_score, sel.since_best, sel.should_stop) == (None, None, 0, False)
    for step in (1, 2):
        assert sel.add(step, float("inf") if step == 1 else float("nan")) is False
    assert (sel.best_step, sel.since_best, sel.should_stop) == (None, 2, False)
    sel.add(3, float("-inf"))
    assert sel.should_stop  # three validations, none finite
    assert sel.add(2, 19.5) is True and (sel.best_step, sel.since_best) == (2, 1)  # a step scored again replaces


def test_val_history_from_metrics_rows():
    rows = [
        {"step": 0, "split": "val", "psnr_y": 25.0, "ssim_y": 0.7, "wall_s": 1.5, "cpu_s": 2.0},
        {"step": 1, "split": "train", "l_g_pix": 0.1, "wall_s": 2.0, "cpu_s": 3.0},
        {"step": 2, "split": "val", "psnr_y": 26.25, "wall_s": 3.0, "cpu_s": 4.0},
        {"step": 4, "split": "val", "lpips": 0.2},  # no psnr_y: not in the history
        {"step": 0, "split": "val", "psnr_y": 24.0, "ssim_y": 0.6},  # the last baseline row wins
    ]
    assert val_history(rows, "psnr_y") == ({2: 26.25}, {"psnr_y": 24.0, "ssim_y": 0.6})
    assert val_history(rows[1:2], "psnr_y") == ({}, None)


def test_format_score():
    assert format_score("psnr_y", 27.354) == "27.35 dB" and format_score("psnr_rgb", 9.0) == "9.00 dB"
    assert format_score("lpips", 0.123456) == "0.1235" and format_score("ssim_y", 1.0) == "1.0000"


def test_save_best_writes_a_model_directory_naming_its_step(tmp_path):
    assert best_record(tmp_path) is None
    _, params = tiny(3)
    save_best(tmp_path, "rrdbnet", dict(HP), params, 7, "psnr_y", 26.5)
    assert best_record(tmp_path) == {"trained_by": "esrgan_jax.train", "step": 7, "select": "psnr_y", "score": 26.5}
    meta = json.loads((tmp_path / "best" / "model.json").read_text())
    assert meta["kind"] == "rrdbnet" and meta["hparams"]["num_feat"] == HP["num_feat"]
    _, saved = load_variables(tmp_path / "best")
    np.testing.assert_array_equal(saved["params"]["conv_first"]["kernel"], params["conv_first"]["kernel"])
