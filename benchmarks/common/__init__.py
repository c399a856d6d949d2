"""What the benchmarks share: the workloads (`cases`), one set of weights for both frameworks (`weights`), each
framework's side of every workload (`jax_side`, `torch_side`), the machine description and the JSON report."""
