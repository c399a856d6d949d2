"""The esrgan-jax test suite; a package so that tests and benchmarks import its PyTorch references."""
