"""The docs stay true: every `python -m MODULE ...` command in README.md, docs/*.md, experiments/*/README.md and
benchmarks/RESULTS.md names a module that exists and passes that module's own flag parsing, without running the job
(tests/doc_commands.py finds and checks them; one child process checks all of them in a few seconds). Probes that
must fail (an unknown flag, an unknown `--config.KEY`, a missing module) run in the same child, so the checker
itself is tested, and so is the extractor, on a sample.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.doc_commands import PLACEHOLDER_PATH, Command, extract

REPO = Path(__file__).resolve().parents[1]
DOCS = ["README.md", *sorted(str(p.relative_to(REPO)) for p in (REPO / "docs").glob("*.md"))]
DOCS += sorted(str(p.relative_to(REPO)) for p in (REPO / "experiments").glob("*/README.md"))
DOCS += ["benchmarks/RESULTS.md"]

# Commands that must fail, each for its reason, checked in the same child run as the docs.
PROBES = [
    (Command("probe", 1, "", "weights_conversion", ["a.pth", "out", "--kindd", "lpips"], False), "--kindd"),
    (Command("probe", 2, "", "esrgan_jax.train", ["--config", "demo", "--config.train.stepz=3"], False), "stepz"),
    (Command("probe", 3, "", "esrgan_jax.train", ["--config", "nosuch"], False), "no such config file"),
    (Command("probe", 4, "", "esrgan_jax.nosuch", ["--x"], False), "no module named esrgan_jax.nosuch"),
    (Command("probe", 5, "", "esrgan_jax", ["--x"], False), "package without __main__"),
    (Command("probe", 6, "", "esrgan_jax.upscale", ["a.png", "--weights", "w", "--tilez", "DIR"], True), "--tilez"),
    (Command("probe", 7, "", "benchmarks.memory.train", ["--", "--config", "mse", "--config.nokey=1"], False), "nokey"),
    (Command("probe", 8, "", "esrgan_jax.train", ["--config", "NAME", "[--workdirr", "DIR]"], True), "--workdirr"),
    (Command("probe", 9, "", "esrgan_jax.evaluate", ["--data", "d", "--method", "bicubic", "--out", "o"], False), None),
    (Command("probe", 10, "", "esrgan_jax.train", ["--config", "demo", "--workdir", "w"], False), None),
]


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> dict[str, list[tuple[Command, str | None]]]:
    """{doc file: [(command, failure or None)]}, plus "probe": the PROBES, from one child process."""
    commands = [c for doc in DOCS for c in extract((REPO / doc).read_text(), doc)] + [c for c, _ in PROBES]
    cwd = tmp_path_factory.mktemp("docs")  # not the checkout: whatever a command would write lands here
    out, payload = cwd / "results.json", json.dumps([dataclasses.asdict(c) for c in commands])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run(
        [sys.executable, "-m", "tests.doc_commands", str(out)], input=payload, capture_output=True, text=True,
        cwd=cwd, env=env, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0 and out.is_file(), proc.stderr[-3000:]
    by_file: dict[str, list] = {}
    for c, failure in zip(commands, json.loads(out.read_text()), strict=True):
        by_file.setdefault(c.file, []).append((c, failure))
    return by_file


@pytest.mark.parametrize("doc", DOCS)
def test_documented_commands_parse(doc, results):
    text = (REPO / doc).read_text()
    checked = results.get(doc, [])
    if re.search(r"python\S*\s+-m\s+[a-z]", text):
        assert checked, f"{doc} mentions `python -m` but no command was extracted from it"
    failures = [f"{c.where()}\n    -> {failure}" for c, failure in checked if failure]
    assert not failures, f"{len(failures)} documented command(s) fail:\n" + "\n".join(failures)


def test_the_docs_have_commands_of_every_entry_point(results):
    modules = {c.module for doc in DOCS for c, _ in results.get(doc, [])}
    assert len([c for doc in DOCS for c in results.get(doc, [])]) >= 40
    assert {"esrgan_jax.train", "esrgan_jax.evaluate", "esrgan_jax.upscale", "weights_conversion"} <= modules


def test_the_checker_fails_what_it_should(results):
    for (command, expected), (_, failure) in zip(PROBES, results["probe"], strict=True):
        if expected is None:
            assert failure is None, (command.args, failure)
        else:
            assert failure is not None and expected in failure, (command.args, failure)


SAMPLE = """\
Install with `pip install -e .` and run `python -m esrgan_jax.upscale photo.png --weights w -o out/`.

```bash
# a comment
python -m weights_conversion $M/x.param models/x4 \\
    --kind rrdbnet   # trailing comment
M=$(python -c "import os; print(os.getcwd())") python3 -m esrgan_jax.evaluate --data "$D/Set 5" 2>&1 | tee log
cd somewhere && .venv/bin/python -m benchmarks.cpu.run --quick; echo done
```

```
error: no such model directory (convert one with `python -m weights_conversion`)
python -m esrgan_jax.train --config demo > train.log
```

```python
import os  # python -m not.a.command
```

Usage: `python -m esrgan_jax.train --config NAME [--workdir DIR] [--config.KEY=VALUE ...]`; see `python -m MODULE`.
"""


def test_extractor_on_a_sample():
    got = [(c.line, c.module, c.args, c.usage) for c in extract(SAMPLE, "sample.md")]
    assert got == [
        (1, "esrgan_jax.upscale", ["photo.png", "--weights", "w", "-o", "out/"], False),
        (5, "weights_conversion", [f"{PLACEHOLDER_PATH}/x.param", "models/x4", "--kind", "rrdbnet"], False),
        (7, "esrgan_jax.evaluate", ["--data", f"{PLACEHOLDER_PATH}/Set 5"], False),
        (8, "benchmarks.cpu.run", ["--quick"], False),
        (13, "esrgan_jax.train", ["--config", "demo"], False),
        (20, "esrgan_jax.train", ["--config", "NAME", "[--workdir", "DIR]", "[--config.KEY=VALUE", "...]"], True),
    ]
    assert extract(SAMPLE, "sample.md")[1].text == "python -m weights_conversion $M/x.param models/x4  --kind " \
        "rrdbnet   # trailing comment"  # fmt: skip
