"""Tests of the experiments (their reports, on tiny runs)."""
