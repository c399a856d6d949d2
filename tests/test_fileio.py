"""Tests for esrgan_jax.fileio: atomic replace, cleanup on error, and normal permissions on results."""

import os
import stat

import pytest

from esrgan_jax.fileio import atomic_output, atomic_write, default_mode, make_temp_dir


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
