"""Side-by-side speed and memory benchmarks of esrgan-jax against the PyTorch reference RRDBNet.

Run `python -m benchmarks.run [--quick] [--json OUT.json]`; results and their analysis are in
`benchmarks/RESULTS.md`. Layout:

- `cases.py`: the workloads (forward, train step, tiled / whole-image upscale), their sizes and FLOP counts;
- `weights.py`: one set of random weights shared by both frameworks (Flax tree <-> BasicSR state dict);
- `jax_side.py`, `torch_side.py`: each framework's implementation of every workload;
- `worker.py`: a subprocess that runs one framework, so peak memory (ru_maxrss) is measured per framework and
  the processes do not pollute each other; the parent drives it over stdin/stdout, one repetition at a time,
  which is what lets the two frameworks' repetitions interleave;
- `machine.py`: what the numbers were measured on; `report.py`: the table and the JSON file;
- `run.py`: the command line and the orchestration;
- `gpu_check.py`: `python -m benchmarks.gpu_check`, the one-shot GPU check (parity, training smoke, Set5, speed)
  with `gpu_parity.py`, `gpu_smoke.py`, `gpu_speed.py`, `torch_cuda.py`, `gpu_report.py`, and
  `stage_gpu_wheels.sh` for the wheels the GPU machine lacks.

Timings are never asserted in tests (house rule): `tests/test_benchmarks.py` only runs the `--quick` path on a
tiny model and checks the JSON schema and that both frameworks computed the same numbers.
"""
