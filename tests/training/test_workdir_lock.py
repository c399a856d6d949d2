"""One training run per workdir: a second one is refused in one line, and a killed holder leaves no stale lock."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys

import pytest

from esrgan_jax.errors import UserError
from esrgan_jax.training.workdir_lock import workdir_lock


def test_a_second_run_is_refused_and_the_lock_is_released_after(tmp_path):
    wd = tmp_path / "run"
    with workdir_lock(wd):
        with pytest.raises(UserError) as e:
            with workdir_lock(wd):
                pass
        assert str(e.value) == (
            f"{wd}: another training run (pid {os.getpid()} on {socket.gethostname()}) is using this workdir; wait "
            "for it to end, stop it, or pass another --workdir"
        )
    with workdir_lock(wd):  # released at the end of the first block
        pass


def test_a_killed_run_leaves_no_stale_lock(tmp_path):
    wd = tmp_path / "run"
    holder = "from esrgan_jax.training.workdir_lock import workdir_lock as L; import sys, time\n"
    holder += f"with L({str(wd)!r}):\n    print('locked', flush=True); time.sleep(600)\n"
    proc = subprocess.Popen([sys.executable, "-c", holder], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline() == "locked\n"
        with pytest.raises(UserError, match=rf"another training run \(pid {proc.pid} on "):
            with workdir_lock(wd):
                pass
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert (wd / ".lock").exists()  # the file stays; the kernel dropped the lock with the process
    with workdir_lock(wd):  # taken at once, no clean-up needed
        pass
