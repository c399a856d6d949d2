"""Every reader of outside files, fuzzed: mutated seeds end in a normal result or one line naming the file.

The readers, their seeds and the rule a case must keep (no traceback, no hang, no memory sized by a field of the
file, no stray file) are `testkit.fuzz_targets` and `testkit.fuzz`. hypothesis draws a fixed, derandomized set
of `EXAMPLES` cases per reader, so CI runs the same cases every time; `python -m benchmarks.fuzz.run` runs many
more and counts them (docs/robustness.md).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from esrgan_jax.errors import UserError
from testkit.fuzz import OPS, Target, mutate, run_case
from testkit.fuzz_targets import TARGETS

EXAMPLES = 40
MUTATION = st.tuples(
    st.sampled_from(OPS),
    st.floats(0, 1, allow_nan=False, exclude_max=True),
    st.integers(1, 64),
    st.binary(min_size=1, max_size=16),
)
CASE = st.tuples(st.integers(0, 1 << 16), st.lists(MUTATION, min_size=1, max_size=4))


@pytest.mark.parametrize("name", list(TARGETS))
def test_reader_survives_mutated_input(name, tmp_path):
    target = TARGETS[name]
    seed = target.seed(tmp_path)
    unchanged = run_case(target, seed, (0, [("cut", 1.0, 1, b"\0")]), tmp_path / "case")
    assert unchanged == ("ok" if target.seed_reads else "error")

    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(case=CASE)
    def case(case):
        outcome = run_case(target, seed, case, tmp_path / "case")
        assert not outcome.startswith("FAIL"), outcome

    case()


def test_mutations():
    data = b"0123456789"
    assert mutate(data, [("cut", 0.5, 1, b"x")]) == b"01234"
    assert mutate(data, [("flip", 0.0, 1, b"\x01")]) == b"1123456789"
    assert mutate(data, [("int", 0.0, 0, b"\0")]) == b"\xff\xff\xff\xff456789"
    assert mutate(b"w=12 h=7", [("number", 0.0, 1, b"")]) == b"w=-1 h=7"
    assert mutate(data, [("remove", 0.0, 1, b"")]) is None


def _raise(error: BaseException):
    def read(folder: Path):
        raise error

    return read


def test_the_rule_catches_each_failure(tmp_path):
    seed = {"f.bin": b"abc"}
    case = (0, [("flip", 0.0, 1, b"\x01")])

    def target(read, **kw) -> Target:
        return Target("t", lambda _: seed, lambda s: ["f.bin"], read, **kw)

    def outcome(read, **kw) -> str:
        return run_case(target(read, **kw), seed, case, tmp_path / "case")

    assert outcome(lambda folder: None) == "ok"
    assert outcome(lambda folder: _raise(UserError(f"{folder / 'f.bin'}: bad"))(folder)) == "error"
    assert outcome(_raise(UserError("bad"))) == "FAIL message: 'bad' is not one line naming a file of the case"
    assert outcome(_raise(KeyError("x"))) == "FAIL traceback: KeyError: 'x'"
    assert outcome(lambda folder: (folder / "stray.tmp").write_bytes(b"")) == "FAIL stray file: stray.tmp"
    assert outcome(lambda folder: (folder / "out").mkdir(), outputs=("out",)) == "ok"
    memory = outcome(lambda folder: bytearray(600 << 20)[::4096].count(0))  # 600 MiB touched, then freed
    assert memory.startswith("FAIL memory: peak resident memory grew by ") and int(memory.split()[-2]) >= 590
