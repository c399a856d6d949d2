"""One training run per workdir: an advisory lock on `WORKDIR/.lock` that a killed run does not leave behind.

The lock is `fcntl.flock` on an open file, which the kernel releases when the file is closed or the process
ends, however it ends (SIGKILL, a crash, a reboot): a stale lock cannot exist, so there is nothing to clean up
and no PID to check. The file also holds the holder's PID and host, for the message a second run gets.
"""

from __future__ import annotations

import fcntl
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from esrgan_jax.errors import UserError

LOCK_FILE = ".lock"


@contextmanager
def workdir_lock(workdir: str | os.PathLike) -> Iterator[Path]:
    """Holds the workdir's lock for the duration of the block; creates the workdir if needed.

    Raises:
      UserError: another process (or another run in this process) holds the lock.
    """
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / LOCK_FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip() or "another process"
            raise UserError(
                f"{workdir}: another training run ({holder}) is using this workdir; wait for it to end, stop it, "
                "or pass another --workdir"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()}\n".encode(), 0)
        yield path
    finally:
        os.close(fd)  # releases the lock; the file stays (removing it would race with a run that just opened it)
