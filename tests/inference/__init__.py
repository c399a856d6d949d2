"""Tests of esrgan_jax.inference, one file per module."""
