"""Tests of esrgan_jax.training, one file per module."""
