"""Test-session setup: one CPU device per test process, whatever order the tests run in.

The CLIs split the CPU into one JAX device per core (esrgan_jax.sharding) when they are the first to start
JAX's backends; in a pytest worker that depends on which test runs first. Pinning the count keeps every test's
device set fixed; tests/test_sharding.py checks the multi-device paths in subprocesses of their own.
"""

import os

os.environ["ESRGAN_JAX_CPU_DEVICES"] = "1"
