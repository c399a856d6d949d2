"""Smoke tests of the benchmarks (their --quick and --cpu-smoke paths); timings are never asserted."""
