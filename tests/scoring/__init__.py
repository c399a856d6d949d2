"""Tests of esrgan_jax.scoring, one file per module."""
