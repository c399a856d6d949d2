"""Atomic file and directory writes shared by every writer in esrgan-jax.

Outputs (images, tables, figures, model directories) are first written under a temporary name in their
destination folder and then renamed over the destination with `os.replace`, which is atomic on one file system:
an interrupted run leaves either the old file or the new one, never half of one. `tempfile` creates its files
and folders owner-only (0600/0700); results are meant to be shared like any other file, so they get the mode
the process's umask would give a new file before the rename.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def _umask() -> int:
    mask = os.umask(0)  # the only way to read the umask is to set it; put it straight back
    os.umask(mask)
    return mask


def default_mode(directory: bool = False) -> int:
    """The permission bits `open()` / `mkdir()` would give a new file or folder under the current umask."""
    return (0o777 if directory else 0o666) & ~_umask()


@contextmanager
def atomic_output(path: str | os.PathLike, suffix: str = ".tmp") -> Iterator[Path]:
    """Yields a temporary path beside `path`; on success it becomes `path`, on any error it is removed.

    Args:
      path: the destination file; its folder is created if needed.
      suffix: suffix of the temporary name (writers that pick a format from the extension need the real one).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, default_mode())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write(path: str | os.PathLike, data: str | bytes) -> None:
    """Writes `data` (text as UTF-8) to `path` atomically."""
    with atomic_output(path) as tmp:
        tmp.write_bytes(data.encode() if isinstance(data, str) else data)


def make_temp_dir(beside: Path) -> Path:
    """A new empty folder next to `beside` (for a directory that is renamed into place when complete)."""
    tmp = Path(tempfile.mkdtemp(prefix=f".{beside.name}.partial-", dir=beside.parent))
    os.chmod(tmp, default_mode(directory=True))
    return tmp


_RENAME_EXCHANGE = 2  # renameat2's flag (linux/fs.h): swap two existing paths in one step
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Swaps `a` and `b` atomically with Linux's renameat2(RENAME_EXCHANGE); False where that is not available."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    if ctypes.get_errno() in (22, 38, 95):  # EINVAL, ENOSYS, EOPNOTSUPP: the file system cannot swap
        return False
    raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()), str(b))


def replace_dir(tmp: Path, dst: Path) -> None:
    """Puts the complete folder `tmp` in place of `dst` (which may exist) so that a kill at any moment leaves `dst`
    either old or new: swapped in one step where Linux can, else by two renames (a window with no `dst`)."""
    if not dst.exists():
        os.replace(tmp, dst)
    elif _exchange(tmp, dst):
        shutil.rmtree(tmp, ignore_errors=True)  # now the old folder
    else:
        old = dst.with_name(f".{dst.name}.old-{os.getpid()}")
        os.replace(dst, old)
        os.replace(tmp, dst)
        shutil.rmtree(old, ignore_errors=True)
