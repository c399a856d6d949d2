"""What a benchmark ran on: CPU model, cores, memory, library versions, load, date.

Collected in the parent process without importing jax or torch (their versions come from package metadata and
from the workers' replies), so the parent stays small and starts fast.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
from importlib import metadata


def _cpu_model() -> str:
    """`model name` plus family/model numbers (a VM may only say "AMD EPYC"; family 25 = Zen 3/4, 26 = Zen 5)."""
    fields: dict[str, str] = {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                fields.setdefault(key.strip(), value.strip())
    except OSError:
        return platform.processor() or platform.machine()
    name = fields.get("model name", platform.machine())
    return f"{name} (family {fields.get('cpu family', '?')}, model {fields.get('model', '?')})"


def _cpu_flags() -> list[str]:
    """The SIMD features that decide which convolution kernels run (AVX-512, its BF16 and VNNI extensions)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    flags = line.split(":", 1)[1].split()
                    return sorted(f for f in flags if f.startswith(("avx512", "avx2", "amx", "fma")))
    except OSError:
        pass
    return []


def _memory_gib() -> float | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError, AttributeError):
        return None


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def load_average() -> list[float] | None:
    """1/5/15-minute load averages: above the core count, other processes were competing for the CPU."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def cores() -> int:
    """Cores this process may run on (the affinity mask, which containers often narrow below os.cpu_count)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def describe() -> dict:
    """A JSON-ready description of the machine and software at the start of the run."""
    return {
        "date_utc": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": _cpu_model(),
        "cpu_flags": _cpu_flags(),
        "cores": cores(),
        "memory_gib": None if _memory_gib() is None else round(_memory_gib(), 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": {p: _version(p) for p in ("jax", "jaxlib", "flax", "optax", "torch", "numpy")},
        "xla_flags": os.environ.get("XLA_FLAGS", ""),
        "load_average_start": load_average(),
    }
