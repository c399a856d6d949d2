"""Atomic file and directory writes shared by every writer in esrgan-jax.

Outputs (images, tables, figures, model directories) are first written under a temporary name in their
destination folder and then renamed over the destination with `os.replace`, which is atomic on one file system:
an interrupted run leaves either the old file or the new one, never half of one. `tempfile` creates its files
and folders owner-only (0600/0700); results are meant to be shared like any other file, so they get the mode
the process's umask would give a new file before the rename.
"""

from __future__ import annotations

import os
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
