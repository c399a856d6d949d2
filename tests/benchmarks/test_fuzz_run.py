"""The long fuzz run (`benchmarks/fuzz/run.py`) on a few cases: one row per reader, counts that add up, the
machine and the failures in its JSON, and exit code 1 when a case fails."""

from __future__ import annotations

import json

from benchmarks.fuzz import run as fuzz_run
from testkit import fuzz


def test_counts_per_reader_and_json(tmp_path, capsys):
    out = tmp_path / "fuzz.json"
    assert fuzz_run.main(["--cases", "3", "--only", "PNG", "model.json", "--json", str(out)]) == 0
    data = json.loads(out.read_text())
    assert [r["reader"] for r in data["rows"]] == ["PNG", "model.json"]
    for row in data["rows"]:
        assert row["cases"] == 3 and row["ok"] + row["error"] + row["failed"] == 3 and row["failures"] == []
    assert data["total"]["cases"] == 6 and "cpu" in data["machine"]
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].split() == ["reader", "cases", "ok", "error", "failed", "seconds"]
    assert lines[-1].split()[:2] == ["all", "6"]


def test_a_failing_case_is_counted_and_shown(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(fuzz, "run_case", lambda *a: "FAIL traceback: KeyError: 'x'")
    assert fuzz_run.main(["--cases", "2", "--only", "PNG"]) == 1
    out = capsys.readouterr().out
    assert "FAIL traceback: KeyError: 'x'" in out and out.splitlines()[-1].split() == ["all", "2", "0", "0", "2"]
