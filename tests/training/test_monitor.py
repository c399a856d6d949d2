"""esrgan_jax/training/monitor.py, driven directly: a stand-in run and a scripted validator make every decision
exact. The step-0 baseline, the best generator kept in WORKDIR/best, the early stop and its message, collapse
warnings and stop_on_collapse (never for the starting model), a resumed run's restored history, and the lines
under the final table. tests/training/test_trainer.py has the same guards end to end."""

from __future__ import annotations

import types

import ml_collections
import pytest

from esrgan_jax.training import recorder
from esrgan_jax.training.monitor import Monitor
from esrgan_jax.training.selection import best_record
from tests.support import HP, tiny


class Scripted:
    """A validator whose `run` returns the next scripted (psnr_y, std_ratio) and one row."""

    def __init__(self, scores):
        self.scores, self.calls = list(scores), 0

    def run(self, params, figure=None):
        score = self.scores[self.calls]
        self.calls += 1
        scores = score if isinstance(score, dict) else {"psnr_y": score[0], "std_ratio": score[1]}
        return scores, [{"method": "g", "image": "a", **scores}]


def _monitor(workdir, scores, metric="psnr_y", **train):
    said = []
    tcfg = dict(patience=0, collapse_fraction=0.2, stop_on_collapse=False, drift_guard=False)
    config = ml_collections.ConfigDict({"train": {**tcfg, **train}})
    run = types.SimpleNamespace(config=config, workdir=workdir, kind="rrdbnet", hparams=dict(HP), lead=True)
    run.say = lambda *a: said.append(" ".join(map(str, a)))
    return Monitor(run, Scripted(scores), recorder.Recorder(workdir), metric), said


@pytest.fixture(autouse=True)
def _no_curves(monkeypatch):
    monkeypatch.setattr(recorder, "plot_curves", lambda workdir: None)  # recorder's own test draws them


def test_baseline_best_and_early_stop(tmp_path):
    mon, said = _monitor(tmp_path, [(25.0, 1.0), (20.0, 1.0), (21.0, 1.0), (20.5, 1.0), (20.7, 1.0)], patience=2)
    params = [tiny(seed)[1] for seed in range(2)]
    assert mon.validate(0, params[0]) is False and mon.baseline == {"psnr_y": 25.0, "std_ratio": 1.0}
    assert said == ["baseline: the starting model scores psnr_y 25.00 dB (step 0)"]
    assert [mon.validate(step, params[step == 2]) for step in (1, 2, 3, 4)] == [False, False, False, True]
    assert said[1:] == [
        "early stop at step 4: psnr_y has not improved for 2 validation(s) since step 2 (config.train.patience=2)"
    ]
    assert mon.stopped == "patience" and best_record(tmp_path)["step"] == 2
    assert [(r["step"], r["psnr_y"]) for r in recorder.read_metrics(tmp_path)] == [
        (0, 25.0), (1, 20.0), (2, 21.0), (3, 20.5), (4, 20.7)
    ]  # fmt: skip
    assert mon.notes(2, 4) == [
        "selected by psnr_y: step 2 (21.00 dB) -> export/; last: step 4 (20.70 dB) -> export_last/",
        "stopped early at step 4: config.train.patience=2",
        "start (step 0): psnr_y 25.00 dB",
        "warning: the exported model (step 2) is worse than the starting model on psnr_y: 21.00 dB vs 25.00 dB at "
        "step 0",
    ]
    # started again: the history, the baseline and the stop come back from metrics.jsonl and best/
    again, said = _monitor(tmp_path, [], patience=2)
    again.restore()
    assert (again.selection.history, again.baseline) == ({1: 20.0, 2: 21.0, 3: 20.5, 4: 20.7}, {"psnr_y": 25.0,
            "std_ratio": 1.0})  # fmt: skip
    assert again.stopped == "patience" and said == ["early stop: already stopped at step 4 (config.train.patience)"]


def test_drift_guard_never_exports_a_step_that_shifts_colours_beyond_the_start(tmp_path):
    val = lambda lpips, drift: {"lpips": lpips, "color_drift_rgb": drift, "std_ratio": 1.0}  # noqa: E731
    script = [val(0.30, 2.0), val(0.25, 3.0), val(0.27, 1.9), val(0.26, 2.0), val(0.24, 2.01)]
    mon, said = _monitor(tmp_path, script, metric="lpips", drift_guard=True)
    for step in range(5):
        mon.validate(step, tiny(0)[1])
    assert mon.selection.best_step == 3 and best_record(tmp_path)["step"] == 3  # drift 2.0 = the start's: allowed
    assert mon.notes(3, 4) == [
        "selected by lpips: step 3 (0.2600) -> export/; last: step 4 (not a candidate) -> export_last/",
        "drift guard: 2 of 4 validated steps shifted colours beyond the start's RGB drift (2.00) and were not "
        "candidates: steps [1, 4]",
        "start (step 0): lpips 0.3000",
    ]
    again, _ = _monitor(tmp_path, [], metric="lpips", drift_guard=True)
    again.restore()
    assert again.selection.best_step == 3 and sorted(again.selection.history) == [1, 2, 3, 4]
    # without the guard the same validations export the lowest LPIPS, whatever its colours
    plain, _ = _monitor(tmp_path / "plain", script, metric="lpips")
    for step in range(5):
        plain.validate(step, tiny(0)[1])
    assert plain.selection.best_step == 4


def test_drift_guard_says_so_when_no_step_qualifies(tmp_path):
    val = lambda lpips, drift: {"lpips": lpips, "color_drift_rgb": drift, "std_ratio": 1.0}  # noqa: E731
    mon, _ = _monitor(tmp_path, [val(0.30, 2.0), val(0.25, 3.0)], metric="lpips", drift_guard=True)
    for step in range(2):
        mon.validate(step, tiny(0)[1])
    assert mon.selection.best_step is None
    assert mon.notes(1, 1)[1:] == [
        "drift guard: 1 of 1 validated steps shifted colours beyond the start's RGB drift (2.00) and were not "
        "candidates: steps [1]",
        "warning: no validated step kept the start's colour drift; exported the last step",
        "start (step 0): lpips 0.3000",
    ]


def test_restore_forgets_a_best_that_best_dir_does_not_hold(tmp_path):
    mon, _ = _monitor(tmp_path, [(20.0, 1.0), (22.0, 1.0)])
    for step in (1, 2):
        mon.validate(step, tiny(0)[1])
    (tmp_path / "best" / "model.json").unlink()
    again, said = _monitor(tmp_path, [])
    again.restore()
    assert again.selection.history == {} and said == [
        f"note: {tmp_path / 'best'} does not hold the best psnr_y in metrics.jsonl (step 2); the best so far starts "
        "again with this run"
    ]


def test_collapse_warns_and_stops_only_after_a_trained_step(tmp_path):
    mon, said = _monitor(tmp_path, [(20.0, 0.05), (21.0, 0.5), (19.0, 0.1)], stop_on_collapse=True)
    params = tiny(0)[1]
    assert mon.validate(0, params) is False and mon.stopped is None  # the starting model's flaw: warned only
    assert said[1].startswith("warning: step 0: generator output collapsed: its spatial std is 0.050")
    assert mon.validate(2, params, (4, 3.0)) is False and said[2:] == []  # 3 of 4 GAN steps separated: fine
    assert mon.validate(4, params, (4, 4.0)) is True and mon.stopped == "collapse"
    assert said[2].startswith("warning: step 4: the discriminator separated every real from every fake logit")
    assert said[3].startswith("warning: step 4: generator output collapsed: its spatial std is 0.100")
    assert said[4:] == ["stopping at step 4: config.train.stop_on_collapse is set"]
    assert mon.notes(2, 4)[1] == "stopped at step 4: collapse detected (config.train.stop_on_collapse)"


def test_last_step_selection_and_lower_is_better(tmp_path):
    mon, _ = _monitor(tmp_path, [(20.0, 1.0), (21.0, 1.0)], metric=None)
    for step in (3, 6):
        mon.validate(step, tiny(0)[1])
    assert mon.notes(6, 6) == ["selected: the last step, 6 (psnr_y 21.00 dB) -> export/ and export_last/"]
    assert not (tmp_path / "best").exists()  # "last" keeps no best/
    lp, _ = _monitor(tmp_path / "lp", [], metric="lpips")
    lp.selection.history, lp.baseline = {1: 0.30, 2: 0.21}, {"lpips": 0.25}
    assert lp.notes(2, 2) == [
        "selected by lpips: step 2 (0.2100) -> export/; last: step 2 (0.2100) -> export_last/",
        "start (step 0): lpips 0.2500",
    ]  # lower is better: 0.21 beats the start's 0.25, no warning
