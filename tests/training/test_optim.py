"""Regex freezing: labels, coverage, the per-rule table, and what optax does with frozen parameters."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from ml_collections import ConfigDict

from esrgan_jax.errors import UserError
from esrgan_jax.training import optim

TOY = {
    "conv_first": {"kernel": np.ones((3, 3, 3, 4), np.float32), "bias": np.ones(4, np.float32)},
    "body_0": {"rdb1": {"conv1": {"kernel": np.ones((3, 3, 4, 2), np.float32), "bias": np.ones(2, np.float32)}}},
    "body_12": {"rdb1": {"conv1": {"kernel": np.ones((3, 3, 4, 2), np.float32), "bias": np.ones(2, np.float32)}}},
    "conv_body": {"kernel": np.ones((3, 3, 4, 4), np.float32), "bias": np.ones(4, np.float32)},
}
TRUNK = ((r"body_\d+/.*", "train"), (".*", "freeze"))
ADAM = ConfigDict(dict(lr=0.1, b1=0.9, b2=0.999, milestones=(), gamma=0.5))


def test_param_paths_are_slash_joined():
    assert optim.param_paths(TOY) == [
        "body_0/rdb1/conv1/bias",
        "body_0/rdb1/conv1/kernel",
        "body_12/rdb1/conv1/bias",
        "body_12/rdb1/conv1/kernel",
        "conv_body/bias",
        "conv_body/kernel",
        "conv_first/bias",
        "conv_first/kernel",
    ]


def test_labels_first_match_wins_and_table_counts():
    rules = ((r"body_0/.*", "freeze"), (r"body_\d+/.*", "train"), (".*", "freeze"))
    labels, table = optim.freeze_labels(TOY, rules)
    assert labels["body_0"]["rdb1"]["conv1"]["kernel"] == "freeze"  # rule 0 wins over rule 1
    assert labels["body_12"]["rdb1"]["conv1"]["kernel"] == "train"
    assert labels["conv_body"]["bias"] == "freeze"
    # 3*3*4*2 + 2 = 74 per body block; conv_first 108 + 4, conv_body 144 + 4.
    assert [(r["tensors"], r["params"]) for r in table] == [(2, 74), (2, 74), (4, 260)]
    text = optim.format_table(table)
    assert "total train" in text and text.splitlines()[-2].split()[-1] == "74"
    assert text.splitlines()[-1].split()[-1] == "334"


def test_fullmatch_not_prefix_match():
    # "body_1" must not match "body_12/..." as a prefix search would.
    labels, _ = optim.freeze_labels(TOY, ((r"body_1/.*", "train"), (".*", "freeze")))
    assert labels["body_12"]["rdb1"]["conv1"]["bias"] == "freeze"


def test_uncovered_parameter_is_named():
    with pytest.raises(UserError, match=r"parameter 'conv_body/bias' matches no rule"):
        optim.freeze_labels(TOY, ((r"body_\d+/.*", "train"), (r"conv_first/.*", "freeze")))


@pytest.mark.parametrize(
    "rules, message",
    [
        (((".*", "trainable"),), r"train_rules\[0\]: expected \(regex, 'train' \| 'freeze'\)"),
        ((("(", "train"),), r"train_rules\[0\]: invalid regex '\('"),
    ],
)
def test_bad_rules(rules, message):
    with pytest.raises(UserError, match=message):
        optim.freeze_labels(TOY, rules)


def test_frozen_params_get_zero_updates_and_no_adam_moments():
    params = jax.tree.map(jnp.asarray, TOY)
    tx, _ = optim.make_optimizer(optim.adam(ADAM), params, TRUNK)
    opt_state = tx.init(params)
    grads = jax.tree.map(jnp.ones_like, params)
    updates, opt_state = tx.update(grads, opt_state, params)
    new = optax.apply_updates(params, updates)
    np.testing.assert_array_equal(new["conv_first"]["kernel"], TOY["conv_first"]["kernel"])
    np.testing.assert_array_equal(new["conv_body"]["bias"], TOY["conv_body"]["bias"])
    # Adam's first step moves every trainable parameter by -lr * sign(grad) = -0.1.
    np.testing.assert_allclose(new["body_0"]["rdb1"]["conv1"]["kernel"], 0.9, rtol=1e-5)
    # Moments exist only for the trainable leaves: 2 blocks x (kernel, bias) x (mu, nu).
    moment_leaves = [x for x in jax.tree.leaves(opt_state) if x.ndim > 0]
    assert sorted(x.size for x in moment_leaves) == sorted([72, 2, 72, 2] * 2)


def test_milestone_schedule_halves_lr():
    schedule = optim.lr_schedule(1e-4, (2, 4), 0.5)
    np.testing.assert_allclose([schedule(s) for s in range(6)], [1e-4, 1e-4, 5e-5, 5e-5, 2.5e-5, 2.5e-5], rtol=1e-6)
    assert optim.lr_schedule(3e-4) == 3e-4
