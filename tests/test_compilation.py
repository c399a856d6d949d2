"""Tests of esrgan_jax.compilation: where the persistent compilation cache goes, that it is really used, and that
compile-then-release frees the compiler's heap and returns a step that computes what the jitted function does.

The cache test starts two fresh processes that compile the same function: the first writes cache entries, the
second must find them (JAX logs a cache hit) instead of compiling again.
"""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from esrgan_jax import compilation
from esrgan_jax.compilation import ENV_VAR, default_cache_dir, enable_compilation_cache

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def restore_config():
    keys = (
        "jax_compilation_cache_dir",
        "jax_persistent_cache_min_compile_time_secs",
        "jax_persistent_cache_min_entry_size_bytes",
    )
    saved = {k: getattr(jax.config, k) for k in keys}
    yield
    for k, v in saved.items():
        jax.config.update(k, v)


def test_default_dir_follows_xdg_cache_home(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert default_cache_dir() == tmp_path / "esrgan_jax" / "jax"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert default_cache_dir() == Path.home() / ".cache" / "esrgan_jax" / "jax"


def test_env_var_sets_folder_and_thresholds(monkeypatch, tmp_path, restore_config):
    jax.config.update("jax_compilation_cache_dir", None)
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "c"))
    assert enable_compilation_cache() == tmp_path / "c"
    assert (tmp_path / "c").is_dir()
    assert jax.config.jax_compilation_cache_dir == str(tmp_path / "c")
    assert jax.config.jax_persistent_cache_min_compile_time_secs == 0.0


def test_off_disables_and_user_setting_wins(monkeypatch, tmp_path, restore_config):
    jax.config.update("jax_compilation_cache_dir", None)
    monkeypatch.setenv(ENV_VAR, "off")
    assert enable_compilation_cache() is None
    assert jax.config.jax_compilation_cache_dir is None
    jax.config.update("jax_compilation_cache_dir", str(tmp_path / "mine"))
    monkeypatch.delenv(ENV_VAR)
    assert enable_compilation_cache() == tmp_path / "mine"


def test_unwritable_folder_is_not_an_error(tmp_path, restore_config):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert enable_compilation_cache(blocker / "sub") is None


_CHILD = """
import jax, jax.numpy as jnp
from esrgan_jax.compilation import enable_compilation_cache
enable_compilation_cache()
jax.monitoring.register_event_listener(lambda event, **kw: print("EVENT", event))
jax.jit(lambda x: jnp.sin(x) * 2 + 1)(jnp.arange(7.0)).block_until_ready()
"""
_HIT = "EVENT /jax/compilation_cache/cache_hits"


def test_second_process_reuses_compiled_code(tmp_path):
    env = {**os.environ, ENV_VAR: str(tmp_path / "cache"), "JAX_PLATFORMS": "cpu"}
    env.pop("JAX_COMPILATION_CACHE_DIR", None)
    runs = [subprocess.run([sys.executable, "-c", _CHILD], env=env, cwd=ROOT, capture_output=True, text=True)]
    assert runs[0].returncode == 0, runs[0].stderr[-2000:]
    assert any((tmp_path / "cache").iterdir()), "first process wrote no cache entry"
    runs.append(subprocess.run([sys.executable, "-c", _CHILD], env=env, cwd=ROOT, capture_output=True, text=True))
    assert runs[1].returncode == 0, runs[1].stderr[-2000:]
    assert _HIT in runs[1].stdout
    assert _HIT not in runs[0].stdout


CHUNK = 32 * 1024  # below glibc's mmap threshold (128 KiB): these live in the heap, where frees stay mapped
COUNT = 4096  # 128 MiB in all, half of it freed


def _rss_mib() -> float:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS")) / 1024


@pytest.mark.skipif(compilation._malloc_trim() is None, reason="needs glibc's malloc_trim (Linux)")
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
    released = compilation.release_freed_host_memory()
    after = _rss_mib()
    for p in chunks[1::2]:
        libc.free(p)
    assert released
    assert before - after > 0.75 * COUNT / 2 * CHUNK / 2**20, (before, after)


def test_release_is_a_no_op_without_glibc(monkeypatch):
    monkeypatch.setattr(sys, "platform", "darwin")
    compilation._libc_function.cache_clear()
    try:
        assert compilation.release_freed_host_memory() is False
    finally:
        monkeypatch.undo()
        compilation._libc_function.cache_clear()


_KEEP_PROBE = """
import ctypes, sys
from esrgan_jax import compilation
def rss():
    return next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmRSS")) / 1024
if sys.argv[1] == "keep":
    assert compilation.keep_freed_host_memory()
libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
p = libc.malloc(256 << 20)
ctypes.memset(p, 1, 256 << 20)
before = rss()
libc.free(p)
freed = rss()
compilation.release_freed_host_memory()
print(round(before - freed), round(before - rss()))
"""


@pytest.mark.skipif(compilation._malloc_trim() is None, reason="needs glibc (Linux)")
@pytest.mark.parametrize("mode", ["keep", "default"])
def test_kept_memory_is_reused_until_released(mode):
    # Run apart: the setting holds for the whole process. By default glibc unmaps a freed 256 MB block at once;
    # kept, the block stays resident (for the next step's buffers) until the explicit release.
    out = subprocess.run([sys.executable, "-c", _KEEP_PROBE, mode], capture_output=True, text=True, check=True)
    dropped_at_free, dropped_at_release = map(int, out.stdout.split())
    if mode == "keep":
        assert dropped_at_free < 16 and dropped_at_release > 200, out.stdout
    else:
        assert dropped_at_free > 200, out.stdout


def test_compiled_step_matches_jit_and_rejects_other_shapes():
    fn = jax.jit(lambda a, b: a @ b + 1.0)
    a, b = np.arange(6, dtype=np.float32).reshape(2, 3), np.ones((3, 2), np.float32)
    compiled = compilation.compile_and_release(fn, jnp.asarray(a), b)
    np.testing.assert_array_equal(compiled(jnp.asarray(a), b), a @ b + 1.0)
    with pytest.raises(TypeError, match="Argument types differ from the types for which this computation was compiled"):
        compiled(jnp.zeros((4, 3)), b)
