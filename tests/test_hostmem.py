"""`esrgan_jax.hostmem`: freed heap memory really leaves the resident set, and a step compiled ahead of time
computes what the jitted function does and refuses other argument types instead of compiling again.
"""

from __future__ import annotations

import ctypes
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from esrgan_jax import hostmem

CHUNK = 32 * 1024  # below glibc's mmap threshold (128 KiB): these live in the heap, where frees stay mapped
COUNT = 4096  # 128 MiB in all, half of it freed


def _rss_mib() -> float:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS")) / 1024


@pytest.mark.skipif(hostmem._malloc_trim() is None, reason="needs glibc's malloc_trim (Linux)")
def test_release_returns_freed_heap_holes_to_the_os():
    libc = ctypes.CDLL(None)
    libc.malloc.restype = ctypes.c_void_p
    libc.free.argtypes = [ctypes.c_void_p]
    chunks = [libc.malloc(CHUNK) for _ in range(COUNT)]
    for p in chunks:
        ctypes.memset(p, 1, CHUNK)  # make every page resident
    for p in chunks[::2]:  # holes between live chunks: free() alone cannot shrink the heap
        libc.free(p)
    before = _rss_mib()
    released = hostmem.release_freed_host_memory()
    after = _rss_mib()
    for p in chunks[1::2]:
        libc.free(p)
    assert released
    assert before - after > 0.75 * COUNT / 2 * CHUNK / 2**20, (before, after)


def test_release_is_a_no_op_without_glibc(monkeypatch):
    monkeypatch.setattr(sys, "platform", "darwin")
    hostmem._malloc_trim.cache_clear()
    try:
        assert hostmem.release_freed_host_memory() is False
    finally:
        monkeypatch.undo()
        hostmem._malloc_trim.cache_clear()


def test_compiled_step_matches_jit_and_rejects_other_shapes():
    fn = jax.jit(lambda a, b: a @ b + 1.0)
    a, b = np.arange(6, dtype=np.float32).reshape(2, 3), np.ones((3, 2), np.float32)
    compiled = hostmem.compile_and_release(fn, jnp.asarray(a), b)
    np.testing.assert_array_equal(compiled(jnp.asarray(a), b), a @ b + 1.0)
    with pytest.raises(TypeError, match="Argument types differ from the types for which this computation was compiled"):
        compiled(jnp.zeros((4, 3)), b)
