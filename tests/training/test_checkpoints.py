"""Training checkpoints: exact round trip of the whole state, keep-latest-K, interrupted writes, mismatches."""

from __future__ import annotations

import shutil

import jax
import numpy as np
import optax
import pytest

from esrgan_jax.errors import UserError
from esrgan_jax.models import RRDBNet, VGGStyleDiscriminator
from esrgan_jax.training import checkpoints
from esrgan_jax.training import state as train_state


def _state(num_feat: int = 8, step: int = 0, gan: bool = True) -> train_state.TrainState:
    def build():
        params = RRDBNet(num_feat=num_feat, num_block=1, num_grow_ch=8).init_params(jax.random.PRNGKey(0))
        d_vars = None
        if gan:
            d = VGGStyleDiscriminator(num_feat=8)
            d_vars = d.init(jax.random.PRNGKey(1), np.zeros((1, 128, 128, 3)), train=False)
        tx = optax.adam(1e-3)
        return train_state.create_train_state(params, tx, seed=3, d_variables=d_vars, d_tx=tx if gan else None, ema=gan)

    # Shapes only (nothing computed), then a distinctive value in every leaf, so mixed-up leaves would be caught.
    leaves, treedef = jax.tree.flatten(jax.eval_shape(build))
    rng = np.random.default_rng(step)
    leaves = [(rng.normal(size=x.shape) * 100).astype(x.dtype) for x in leaves]
    return jax.tree.unflatten(treedef, leaves).replace(step=np.int32(step))


def test_round_trip_is_exact_and_typed(tmp_path):
    mgr = checkpoints.checkpoint_manager(tmp_path, save_every=1, keep=2)
    state = _state(step=7)
    assert checkpoints.save(mgr, state)
    restored = checkpoints.restore(mgr, lambda: _state(step=0))
    assert isinstance(restored, train_state.TrainState) and int(restored.step) == 7
    jax.tree.map(np.testing.assert_array_equal, restored, state)
    assert restored.has_gan and restored.has_ema


def test_state_without_gan_or_ema_round_trips(tmp_path):
    mgr = checkpoints.checkpoint_manager(tmp_path, save_every=1, keep=1)
    state = _state(step=2, gan=False)
    assert state.d_params == {} and state.ema_params == {}
    checkpoints.save(mgr, state)
    restored = checkpoints.restore(mgr, lambda: _state(gan=False))
    jax.tree.map(np.testing.assert_array_equal, restored, state)


def test_interval_and_keep_latest(tmp_path):
    mgr = checkpoints.checkpoint_manager(tmp_path, save_every=2, keep=2)
    written = [checkpoints.save(mgr, _state(step=s, gan=False)) for s in range(1, 8)]
    assert written == [False, True, False, True, False, True, False]
    assert checkpoints.save(mgr, _state(step=7, gan=False), force=True)  # the end of training always saves
    assert mgr.all_steps() == [6, 7]
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == ["6", "7"]


def test_a_save_returns_freed_memory_to_the_os(tmp_path, monkeypatch):
    # Each save that writes trims malloc before (the last step's kept buffers) and after (orbax's freed copies).
    calls = []
    monkeypatch.setattr(checkpoints, "release_freed_host_memory", lambda: calls.append(1))
    mgr = checkpoints.checkpoint_manager(tmp_path, save_every=2, keep=1)
    assert [checkpoints.save(mgr, _state(step=s, gan=False)) for s in (1, 2)] == [False, True]
    assert len(calls) == 2  # before the write and after it; none for the step that saved nothing


def test_interrupted_write_is_ignored(tmp_path):
    mgr = checkpoints.checkpoint_manager(tmp_path, save_every=1, keep=3)
    checkpoints.save(mgr, _state(step=4, gan=False))
    mgr.close()
    # What a SIGKILL during a save leaves: orbax's temporary directory, never renamed to its step.
    partial = tmp_path / "checkpoints" / "5.orbax-checkpoint-tmp-1764100000000000"
    (partial / "default").mkdir(parents=True)
    (partial / "default" / "half_written").write_bytes(b"\0" * 10)
    assert checkpoints.saved_step(tmp_path) == 4
    mgr = checkpoints.checkpoint_manager(tmp_path, save_every=1, keep=3)
    assert checkpoints.latest_step(mgr) == 4
    assert int(checkpoints.restore(mgr, lambda: _state(gan=False)).step) == 4


def test_saved_step_creates_nothing(tmp_path):
    assert checkpoints.saved_step(tmp_path / "run") is None
    assert not (tmp_path / "run").exists()


def test_restore_into_another_architecture_is_one_line(tmp_path):
    mgr = checkpoints.checkpoint_manager(tmp_path, save_every=1, keep=1)
    checkpoints.save(mgr, _state(step=1, gan=False))
    with pytest.raises(UserError, match=r"checkpoints/1: checkpoint does not match the configured model") as e:
        checkpoints.restore(mgr, lambda: _state(num_feat=16, gan=False))
    assert "\n" not in str(e.value)


def test_bad_intervals():
    with pytest.raises(UserError, match=r"config.checkpoint: save_every and keep must be >= 1, got 0 and 1"):
        checkpoints.checkpoint_manager("/nonexistent", save_every=0, keep=1)


def test_a_full_disk_keeps_the_previous_checkpoint(tmp_path, request):
    mgr = checkpoints.checkpoint_manager(tmp_path, save_every=1, keep=3)
    checkpoints.save(mgr, _state(step=1, gan=False))
    disk = request.getfixturevalue("full_disk")
    with pytest.raises(UserError) as e:
        checkpoints.save(mgr, _state(step=2, gan=False))
    assert str(e.value) == (
        f"{tmp_path / 'checkpoints'}: cannot write the checkpoint of step 2 (No space left on device); the newest "
        "complete one, step 1, is intact; free space and run the same command again to resume"
    )
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == ["1"]  # the partial one is removed
    disk["on"] = False  # space freed: the same step saves and restores exactly
    mgr.close()
    mgr = checkpoints.checkpoint_manager(tmp_path, save_every=1, keep=3)
    assert int(checkpoints.restore(mgr, lambda: _state(gan=False)).step) == 1
    assert checkpoints.save(mgr, _state(step=2, gan=False))
    restored = checkpoints.restore(mgr, lambda: _state(gan=False))
    jax.tree.map(np.testing.assert_array_equal, restored, _state(step=2, gan=False))


def _damage(step_dir, how: str) -> None:
    if how == "truncated":
        data = max((p for p in step_dir.rglob("*") if p.is_file()), key=lambda p: p.stat().st_size)
        data.write_bytes(data.read_bytes()[: data.stat().st_size // 2])
    elif how == "missing data":
        shutil.rmtree(step_dir / "default" / "ocdbt.process_0")
    else:
        (step_dir / "default" / "_METADATA").unlink()


@pytest.mark.parametrize("how", ["truncated", "missing data", "missing metadata"])
def test_a_damaged_newest_checkpoint_resumes_from_the_previous_one(tmp_path, how):
    mgr = checkpoints.checkpoint_manager(tmp_path, save_every=1, keep=3)
    for step in (1, 2):
        checkpoints.save(mgr, _state(step=step, gan=False))
    mgr.close()
    _damage(tmp_path / "checkpoints" / "2", how)
    said = []
    mgr = checkpoints.checkpoint_manager(tmp_path, save_every=1, keep=3)
    state, step = checkpoints.restore_newest_readable(mgr, lambda: _state(gan=False), say=said.append)
    assert step == 1
    jax.tree.map(np.testing.assert_array_equal, state, _state(step=1, gan=False))
    assert len(said) == 1 and said[0].startswith(f"resume: {tmp_path / 'checkpoints' / '2'} is damaged (")
    assert said[0].endswith(f"); moved to {tmp_path / 'damaged_checkpoints' / '2'}, resuming from step 1")
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == ["1"]
    mgr.close()


def test_no_readable_checkpoint_is_an_error_never_a_fresh_start(tmp_path):
    mgr = checkpoints.checkpoint_manager(tmp_path, save_every=1, keep=3)
    checkpoints.save(mgr, _state(step=1, gan=False))
    mgr.close()
    _damage(tmp_path / "checkpoints" / "1", "missing metadata")
    mgr = checkpoints.checkpoint_manager(tmp_path, save_every=1, keep=3)
    with pytest.raises(UserError) as e:
        checkpoints.restore_newest_readable(mgr, lambda: _state(gan=False), say=print)
    where = tmp_path / "checkpoints"
    assert str(e.value) == (
        f"{where / '1'}: cannot read the checkpoint (Metadata file (named _METADATA) does not exist at "
        f"{where / '1' / 'default'}.), nor any earlier one; move {where} away to start from the converted weights"
    )
    # A model mismatch is the mismatch, not damage: nothing is moved.
    mgr = checkpoints.checkpoint_manager(tmp_path / "b", save_every=1, keep=3)
    checkpoints.save(mgr, _state(step=1, gan=False))
    with pytest.raises(UserError, match=r"checkpoint does not match the configured model"):
        checkpoints.restore_newest_readable(mgr, lambda: _state(num_feat=16, gan=False), say=print)
    assert not (tmp_path / "b" / "damaged_checkpoints").exists()
