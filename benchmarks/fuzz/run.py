"""The long fuzz run: many seeded cases per reader of outside files, and how many each survived.

    python -m benchmarks.fuzz.run [--cases 300] [--seed 0] [--only NAME ...] [--json benchmarks/results/fuzz.json]

Each reader of `testkit.fuzz_targets.TARGETS` gets `--cases` mutated inputs drawn with `random.Random(seed)`
(`testkit.fuzz.random_mutations`) and run by `testkit.fuzz.run_case`: a case survives when it ends in a normal
result or a one-line `UserError` naming its file (exit code 2 in a command). The table gives, per reader, the
cases run, how they ended (ok / one-line error / failed) and the time; the first failures are printed in full.
CI runs a smaller, fixed set of the same cases with hypothesis (tests/test_fuzz.py). Needs the test extra.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import machine


def run(names: list[str], cases: int, seed: int, show: int = 3) -> list[dict]:
    """Runs `cases` cases of each named target; returns one row per target."""
    from esrgan_jax.sharding import ensure_cpu_cores

    ensure_cpu_cores()
    from testkit.fuzz import random_mutations, run_case
    from testkit.fuzz_targets import TARGETS

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            target = TARGETS[name]
            seed_files = target.seed(Path(tmp))
            rng = random.Random(f"{seed}:{name}")
            counts: dict[str, int] = {"ok": 0, "error": 0, "failed": 0}
            failures: list[str] = []
            start = time.perf_counter()
            for i in range(cases):
                case = random_mutations(rng)
                outcome = run_case(target, seed_files, case, Path(tmp) / "case")
                if outcome.startswith("FAIL"):
                    counts["failed"] += 1
                    failures.append(f"case {i} {case}: {outcome}")
                else:
                    counts[outcome] += 1
            seconds = time.perf_counter() - start
            rows.append({"reader": name, "cases": cases, **counts, "seconds": round(seconds, 1), "failures": failures})
            print(f"{name:22s} {cases:6d} {counts['ok']:6d} {counts['error']:6d} {counts['failed']:6d} {seconds:8.1f}")
            for line in failures[:show]:
                print(f"    {line[:400]}")
            sys.stdout.flush()
    return rows


def main(argv: list[str] | None = None) -> int:
    from testkit.fuzz_targets import TARGETS

    p = argparse.ArgumentParser(prog="python -m benchmarks.fuzz.run", description=__doc__.split("\n\n")[0])
    p.add_argument("--cases", type=int, default=300, help="cases per reader (default 300)")
    p.add_argument("--seed", type=int, default=0, help="seed of the case draws (default 0)")
    p.add_argument("--only", nargs="*", choices=list(TARGETS), default=None, help="these readers only")
    p.add_argument("--json", default=None, help="write the rows and the machine here")
    args = p.parse_args(argv)
    names = args.only or list(TARGETS)
    info = machine.describe()
    print(f"fuzzing {len(names)} readers, {args.cases} cases each (seed {args.seed}) on {info['cpu']}")
    print(f"{'reader':22s} {'cases':>6s} {'ok':>6s} {'error':>6s} {'failed':>6s} {'seconds':>8s}")
    rows = run(names, args.cases, args.seed)
    total = {k: sum(r[k] for r in rows) for k in ("cases", "ok", "error", "failed")}
    print(f"{'all':22s} {total['cases']:6d} {total['ok']:6d} {total['error']:6d} {total['failed']:6d}")
    if args.json:
        out = {"machine": info, "cases_per_reader": args.cases, "seed": args.seed, "total": total, "rows": rows}
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(out, indent=1) + "\n")
    return 1 if total["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
