"""`benchmarks.cpu.profile_step`: the HLO classification that splits a train step's time into forward, input-gradient
and weight-gradient convolutions, checked on a compiled step whose convolution counts are known, and the
aten-op categories.
"""

from __future__ import annotations

import collections

import jax
import jax.numpy as jnp
import pytest

from benchmarks.common.cases import Case
from benchmarks.common.weights import make_weights
from benchmarks.cpu.profile_step import classify_hlo, main, profile_jax, profile_torch, torch_category
from esrgan_jax.models.rrdbnet import RRDBNet

TINY = {"num_feat": 8, "num_block": 2, "num_grow_ch": 4}
CONVS = 1 + 2 * 3 * 5 + 1 + 4  # conv_first, 2 RRDBs x 3 RDBs x 5, conv_body, conv_up1 / up2 / hr / last


def _counts(fn, *args) -> collections.Counter:
    categories = classify_hlo(jax.jit(fn).lower(*args).compile().as_text())
    return collections.Counter(c for c in categories.values() if c.startswith("conv"))


def test_classify_counts_every_convolution_of_a_grad_step_once():
    model = RRDBNet(**TINY)
    params = model.init_params(jax.random.key(0))
    x = jnp.ones((1, 16, 16, 3))
    grad = jax.grad(lambda p: jnp.mean(model.apply({"params": p}, x) ** 2))
    counts = _counts(grad, params)
    # Every conv has a weight gradient; all but conv_first pass a gradient on to their input.
    assert counts == {"conv forward": CONVS, "conv d_weight": CONVS, "conv d_input": CONVS - 1}


def test_classify_forward_only():
    model = RRDBNet(**TINY)
    params = model.init_params(jax.random.key(0))
    counts = _counts(lambda p, x: model.apply({"params": p}, x), params, jnp.ones((1, 16, 16, 3)))
    assert counts == {"conv forward": CONVS}


def test_both_profilers_split_a_tiny_train_step(tmp_path):
    weights = str(tmp_path / "weights.npz")
    make_weights(weights, TINY)
    case = Case("tiny train", "train", 16, batch=2)
    jax_ms = profile_jax(case, weights, reps=1)
    torch_ms = profile_torch(case, weights, reps=1, model=TINY)
    assert {"conv forward", "conv d_input", "conv d_weight"} <= set(jax_ms)
    assert {"conv forward", "conv backward (d_input + d_weight)"} <= set(torch_ms)
    assert all(ms > 0 for ms in (*jax_ms.values(), *torch_ms.values()))


@pytest.mark.parametrize(
    ("op", "category"),
    [
        ("aten::convolution_backward", "conv backward (d_input + d_weight)"),
        ("aten::mkldnn_convolution", "conv forward"),
        ("aten::cat", "concatenate"),
        ("aten::copy_", "copy / transpose"),
        ("aten::leaky_relu", "elementwise / other"),
    ],
)
def test_torch_categories(op, category):
    assert torch_category(op) == category


def test_unknown_case_is_a_one_line_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--case", "train b3"])
    assert exc.value.code == 2
    assert "unknown case 'train b3'; expected one of: forward 64x64 b1," in capsys.readouterr().err
