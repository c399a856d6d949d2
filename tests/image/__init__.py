"""Tests of esrgan_jax.image, one file per module."""
