"""The long fuzz run of the readers of outside files (`python -m benchmarks.fuzz.run`)."""
