"""The preamble every command runs before JAX starts: one CPU device per core, and the compilation cache."""

from __future__ import annotations

from esrgan_jax.compilation import enable_compilation_cache
from esrgan_jax.sharding import use_cpu_cores


def setup_jax() -> None:
    """Presents each CPU core as a JAX device (`sharding.use_cpu_cores`) and turns on the persistent compilation
    cache, so the next run loads compiled programs instead of rebuilding them. Call before anything runs JAX."""
    use_cpu_cores()
    enable_compilation_cache()
