"""Tests of esrgan_jax.data, one file per module."""
