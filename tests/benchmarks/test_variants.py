"""`python -m benchmarks.cpu.variants`: every convolution path of RRDBNet timed side by side on a one-block model,
and the compact model's Winograd path; what is checked is the JSON and that each path computes the direct path's
output (and training loss)."""

from __future__ import annotations

import json

from benchmarks.cpu import variants


def test_variants_run_every_path_and_agree_with_direct(tmp_path, capsys):
    out = tmp_path / "variants.json"
    # Winograd F(2, 3) stands for every m here (tests/models/test_winograd.py covers each); their compiles are slow
    argv = ["--blocks", "1", "--sizes", "12", "--train-size", "8", "--reps", "1", "--paths", "concat_free,winograd2"]
    assert variants.main([*argv, "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    forward, train = result["rows"]
    assert (forward["case"], train["case"]) == ("forward 12x12 b1", "train b1 8x8")
    assert set(variants.FORWARD_VARIANTS) == {"direct", "concat_free", "winograd2", "winograd4", "winograd6"}
    assert set(forward["median_s"]) == {"direct", "concat_free", "winograd2"}
    assert set(train["median_s"]) == {"direct", "concat_free"}
    for row in (forward, train):
        assert row["vs_direct"]["direct"] == 1.0
        assert max(row["max_abs_diff"].values()) < 1e-5, row
    assert "forward 12x12 b1 direct" in capsys.readouterr().out


def test_compact_runs_its_winograd_path_forward_only_and_profiles_it(tmp_path):
    out = tmp_path / "compact.json"
    argv = ["--arch", "compact", "--sizes", "12", "--reps", "1", "--paths", "concat_free,winograd4", "--profile", "1"]
    assert variants.main([*argv, "--json", str(out)]) == 0
    (forward,) = json.loads(out.read_text())["rows"]  # no train row, no concatenation-free path
    assert set(forward["median_s"]) == {"direct", "winograd4"}
    assert forward["max_abs_diff"]["winograd4"] < 1e-5
    # The profile finds the three Winograd steps where they run, and the direct path's convolutions.
    profile = forward["profile_ms"]
    assert {"winograd_input", "winograd_product", "winograd_output"} <= set(profile["winograd4"])
    assert "conv forward" in profile["direct"] and not any(k.startswith("winograd") for k in profile["direct"])
    assert "conv forward" not in profile["winograd4"]  # every conv of the compact model takes the path
