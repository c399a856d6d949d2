"""End to end: training survives its environment. A disk that fills during a checkpoint write, SIGTERM and
Ctrl-C each stop the run in one line with the last checkpoint intact, and the resume is bit-exact; a damaged
newest checkpoint is reported and training continues from the one before; a second run on a busy workdir is
refused. The `assets` and `full_disk` fixtures are in tests/conftest.py."""

from __future__ import annotations

import os
import shutil
import signal
import socket

import jax
import numpy as np
import pytest

from esrgan_jax import train
from esrgan_jax.errors import run_cli
from esrgan_jax.models.store import load_variables
from esrgan_jax.training import checkpoints
from esrgan_jax.training.workdir_lock import workdir_lock
from testkit.train_assets import tiny_config as tiny


def _stopped(config, workdir, capsys) -> tuple[int, str]:
    """Runs training as the command does (run_cli); (exit code, the last stderr line)."""
    capsys.readouterr()
    with pytest.raises(SystemExit) as e:
        run_cli(lambda: train.train_and_evaluate(config, workdir))
    err = capsys.readouterr().err  # the progress bar writes there too; the error is the last line
    assert err.count("error:") == 1 and "Traceback" not in err
    return e.value.code, err.splitlines()[-1]


def _at_step(monkeypatch, step: int, action) -> None:
    """`action()` just before the training loop saves `step` (after the step ran)."""
    real = checkpoints.save

    def save(manager, state, force=False):
        if int(jax.device_get(state.step)) == step:
            action()
        return real(manager, state, force)

    monkeypatch.setattr(checkpoints, "save", save)


def _same_export(a, b) -> None:
    jax.tree.map(np.testing.assert_array_equal, load_variables(a)[1], load_variables(b)[1])


def test_full_disk_sigterm_and_a_damaged_checkpoint_then_exact_resumes(
    assets, tmp_path, capsys, monkeypatch, full_disk
):
    full_disk["on"] = False
    train.train_and_evaluate(tiny("mse", assets, steps=4), tmp_path / "straight")

    # The disk fills while step 3 is saved: one line, exit 2, step 2 intact; space freed, the resume is exact.
    wd = tmp_path / "full"
    with monkeypatch.context() as m:
        _at_step(m, 3, lambda: full_disk.update(on=True))
        code, line = _stopped(tiny("mse", assets, steps=4), wd, capsys)
    full_disk["on"] = False
    assert (code, line) == (
        2,
        f"error: {wd.absolute() / 'checkpoints'}: cannot write the checkpoint of step 3 (No space left on device); "
        "the newest complete one, step 2, is intact; free space and run the same command again to resume",
    )
    assert sorted(p.name for p in (wd / "checkpoints").iterdir()) == ["1", "2"]
    assert train.train_and_evaluate(tiny("mse", assets, steps=4), wd)["start"] == "resume"
    _same_export(tmp_path / "straight", wd)

    # SIGTERM during step 2 (Ctrl-C alike): the step finishes, is saved, exit 143; the resume is exact.
    wd = tmp_path / "term"
    with monkeypatch.context() as m:
        _at_step(m, 2, lambda: os.kill(os.getpid(), signal.SIGTERM))
        code, line = _stopped(tiny("mse", assets, steps=4), wd, capsys)
    assert (code, line) == (
        143,
        f"error: SIGTERM at step 2: checkpoint saved in {wd.absolute() / 'checkpoints' / '2'}; run the same command "
        "again to resume",
    )
    assert checkpoints.saved_step(wd) == 2
    train.train_and_evaluate(tiny("mse", assets, steps=4), wd)
    _same_export(tmp_path / "straight", wd)

    # The newest checkpoint (4) is damaged: said in one line, training goes on from 3 and ends where it would.
    shutil.rmtree(wd / "checkpoints" / "4" / "default" / "ocdbt.process_0")
    capsys.readouterr()
    result = train.train_and_evaluate(tiny("mse", assets, steps=4), wd)
    out = capsys.readouterr().out
    assert (result["start"], result["step"]) == ("resume", 4)
    damaged = [line for line in out.splitlines() if "is damaged" in line]
    assert len(damaged) == 1 and damaged[0].startswith(f"resume: {wd.absolute() / 'checkpoints' / '4'} is damaged (")
    assert damaged[0].endswith(f"moved to {wd.absolute() / 'damaged_checkpoints' / '4'}, resuming from step 3")
    _same_export(tmp_path / "straight", wd)


def test_ctrl_c_saves_and_exits_130(assets, tmp_path, capsys, monkeypatch):
    _at_step(monkeypatch, 1, lambda: os.kill(os.getpid(), signal.SIGINT))
    code, line = _stopped(tiny("mse", assets, steps=3), tmp_path, capsys)
    assert (code, line) == (
        130,
        f"error: SIGINT at step 1: checkpoint saved in {tmp_path.absolute() / 'checkpoints' / '1'}; run the same "
        "command again to resume",
    )


def test_a_busy_workdir_is_refused(assets, tmp_path, capsys):
    with workdir_lock(tmp_path):
        code, line = _stopped(tiny("mse", assets, steps=2), tmp_path, capsys)
    assert (code, line) == (
        2,
        f"error: {tmp_path}: another training run (pid {os.getpid()} on {socket.gethostname()}) is using this "
        "workdir; wait for it to end, stop it, or pass another --workdir",
    )
    assert not (tmp_path / "checkpoints").exists()
