"""Tests of esrgan_jax.models, one file per module."""
