"""How fast and how much memory: esrgan-jax measured against the PyTorch reference, grouped by question.

- `cpu/`: `python -m benchmarks.cpu.run` (side by side with PyTorch), `python -m benchmarks.cpu.profile_step`;
- `memory/`: `python -m benchmarks.memory.upscale`, `.compile` and `.train`;
- `gpu/`: `python -m benchmarks.gpu.check`, the one-shot GPU check (parity, training smoke, Set5, speed);
- `common/`: the workloads, the shared weights, each framework's side, the machine description and the JSON report.

Each prints a table and writes JSON (`benchmarks/results/`); the current numbers are in `benchmarks/RESULTS.md`.
Timings are never asserted in tests: the tests run the `--quick` paths on tiny models and check the JSON.
"""
