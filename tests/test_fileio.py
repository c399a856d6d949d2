"""Tests for esrgan_jax.fileio: atomic replace, cleanup on error, and normal permissions on results."""

import os
import stat

import pytest

from esrgan_jax import fileio
from esrgan_jax.fileio import atomic_output, atomic_write, default_mode, make_temp_dir, replace_dir


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_atomic_write_replaces_and_uses_umask_mode(tmp_path, umask_022):
    target = tmp_path / "out" / "table.md"
    atomic_write(target, "old")
    atomic_write(target, "new")
    assert target.read_text() == "new"
    # tempfile would leave 0600; a result must be readable like any new file (0644 under umask 022).
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    assert sorted(p.name for p in target.parent.iterdir()) == ["table.md"]


def test_atomic_output_keeps_old_file_and_removes_temp_on_error(tmp_path):
    target = tmp_path / "image.png"
    target.write_bytes(b"complete")
    with pytest.raises(RuntimeError, match="disk full"):
        with atomic_output(target) as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("disk full")
    assert target.read_bytes() == b"complete"
    assert [p.name for p in tmp_path.iterdir()] == ["image.png"]


def test_make_temp_dir_mode_and_place(tmp_path, umask_022):
    tmp = make_temp_dir(tmp_path / "model")
    assert tmp.parent == tmp_path and tmp.name.startswith(".model.partial-")
    assert stat.S_IMODE(tmp.stat().st_mode) == 0o755 == default_mode(directory=True)


@pytest.mark.parametrize("can_swap", [True, False])
def test_replace_dir_swaps_a_folder_into_place(tmp_path, monkeypatch, can_swap):
    if not can_swap:  # a file system without renameat2's exchange: two renames
        monkeypatch.setattr(fileio, "_exchange", lambda a, b: False)
    for name, content in (("new", "2"), ("dst", "1")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "f").write_text(content)
    replace_dir(tmp_path / "new", tmp_path / "dst")
    assert sorted(os.listdir(tmp_path)) == ["dst"] and (tmp_path / "dst" / "f").read_text() == "2"
    (tmp_path / "new").mkdir()
    replace_dir(tmp_path / "new", tmp_path / "fresh")  # no folder to replace
    assert sorted(os.listdir(tmp_path)) == ["dst", "fresh"]


def test_replace_dir_exchanges_in_one_step_on_linux(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "x").write_text("a")
    assert fileio._exchange(tmp_path / "a", tmp_path / "b")  # both names exist at every moment
    assert os.listdir(tmp_path / "b") == ["x"] and os.listdir(tmp_path / "a") == []
