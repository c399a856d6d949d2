"""Compiling once: JAX's persistent compilation cache, and compile-then-release for the train step.

**Persistent cache.** Compiling the full RRDBNet takes seconds (the forward) to tens of seconds (a training
step) on a CPU, and `RRDBNet.init_params` spends most of its time compiling ~40 small initialiser programs. XLA
executables can be stored on disk and loaded by the next process instead of being rebuilt; JAX only does so when a cache
folder is configured. Entry points (CLIs, the benchmark) call `enable_compilation_cache()` once, before the first
compile.

The folder is, in order: the `path` argument, `$ESRGAN_JAX_CACHE_DIR`, `$XDG_CACHE_HOME/esrgan_jax/jax`,
`~/.cache/esrgan_jax/jax`. Set `ESRGAN_JAX_CACHE_DIR=off` to disable it. A cache folder the user configured
for JAX themselves (`JAX_COMPILATION_CACHE_DIR` / `jax.config`) is left alone. Entries are keyed by the program,
the jax/jaxlib version, the XLA flags and the device, so a stale entry is never used for a different setup.

**Compile, release, run.** Compiling the ESRGAN train step allocates and frees several hundred MB on the host
(LLVM code generation on the compiler's threads). glibc's malloc keeps freed memory of its thread arenas mapped,
so it stays resident and the first step's buffers come on top of it. `compile_and_release` compiles ahead of
time, hands the freed heap back (`malloc_trim`), and returns the compiled step.

**Keep, then release.** XLA:CPU allocates a step's temporary buffers afresh at every call and frees them after.
Above glibc's mmap threshold each of those allocations is a fresh mapping, so every step faults in every page
of its temporaries again. `keep_freed_host_memory` (the train CLI calls it) makes malloc reuse freed memory
instead; it goes back to the OS only at the explicit releases (after compiling, checkpointing, validating).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
import sys
from pathlib import Path
from typing import Any

import jax

ENV_VAR = "ESRGAN_JAX_CACHE_DIR"
_DISABLED = ("off", "0", "false", "no", "none")


def default_cache_dir() -> Path:
    """`$XDG_CACHE_HOME/esrgan_jax/jax`, or `~/.cache/esrgan_jax/jax` when XDG_CACHE_HOME is unset."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "esrgan_jax" / "jax"


def enable_compilation_cache(path: str | os.PathLike | None = None) -> Path | None:
    """Turns on JAX's persistent compilation cache; returns the folder in use, or None when disabled.

    Args:
      path: cache folder; default `$ESRGAN_JAX_CACHE_DIR` or the per-user default (`default_cache_dir`).

    Returns:
      The cache folder, or None if the cache is switched off (`ESRGAN_JAX_CACHE_DIR=off`) or the folder cannot
      be created (e.g. a read-only home): the cache is an optimisation, never a reason to fail.
    """
    configured = jax.config.jax_compilation_cache_dir
    if path is None and configured:
        return Path(configured)  # the user's own JAX setting wins
    choice = str(path) if path is not None else os.environ.get(ENV_VAR, "")
    if choice.lower() in _DISABLED and choice:
        return None
    folder = Path(choice).expanduser() if choice else default_cache_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    jax.config.update("jax_compilation_cache_dir", str(folder))
    # JAX's defaults only store programs that took >= 1 s to compile; init's many small programs take ~0.1 s
    # each but add up to seconds, so store everything (entries are small: ~0.1-1 MB for the forward).
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    return folder


_M_TRIM_THRESHOLD, _M_MMAP_MAX = -1, -4  # glibc mallopt parameters (malloc.h)


@functools.cache
def _libc_function(name: str) -> Any:
    """A glibc function (`malloc_trim`, `mallopt`), or None where the C library has none (macOS, musl)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return getattr(libc, name)
    except (OSError, AttributeError):
        return None


def _malloc_trim() -> Any:
    """glibc's `malloc_trim`, or None."""
    return _libc_function("malloc_trim")


def keep_freed_host_memory() -> bool:
    """Makes malloc keep freed memory for reuse: no mmap for large blocks, no automatic trimming. True if set.

    Call once per process, before the heavy allocations. Freed memory then returns to the OS only through
    `release_freed_host_memory`.
    """
    mallopt = _libc_function("mallopt")
    if mallopt is None:
        return False
    return bool(mallopt(_M_MMAP_MAX, 0)) and bool(mallopt(_M_TRIM_THRESHOLD, 2**31 - 1))


def release_freed_host_memory() -> bool:
    """Returns freed, still-mapped malloc memory of every arena to the OS; True if glibc did release some."""
    trim = _malloc_trim()
    return bool(trim(0)) if trim is not None else False


def compile_and_release(jitted: Any, *args: Any) -> Any:
    """`jitted` compiled for `args` (shapes, dtypes, shardings), with the compiler's freed memory released.

    The result is called like `jitted` with arguments of the same types, donation included; any other shape
    raises instead of silently compiling again.
    """
    compiled = jitted.lower(*args).compile()
    release_freed_host_memory()
    return compiled
