"""Optimizers for training: Adam with a step schedule, and regex freezing of parameters.

Freezing is declared in the config as an ordered list of `(regex, "train" | "freeze")` rules, matched with
`re.fullmatch` against "/"-joined parameter paths (`body_0/rdb1/conv1/kernel`); the first matching rule wins and
every parameter must be matched by some rule. Frozen parameters go through `optax.set_to_zero()` inside
`optax.multi_transform`, so Adam keeps no moments for them (no memory, and they can never drift).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import jax
import numpy as np
import optax

from esrgan_jax.errors import UserError

TRAIN, FREEZE = "train", "freeze"


def param_paths(params: Any) -> list[str]:
    """The "/"-joined path of every leaf of a params pytree, in `jax.tree` leaf order."""
    paths = []
    for path, _ in jax.tree_util.tree_flatten_with_path(params)[0]:
        paths.append("/".join(str(getattr(k, "key", getattr(k, "name", k))) for k in path))
    return paths


def _check_rules(rules: Sequence[Sequence[str]]) -> list[tuple[re.Pattern, str]]:
    compiled = []
    for i, rule in enumerate(rules):
        if len(rule) != 2 or rule[1] not in (TRAIN, FREEZE):
            raise UserError(f"config.train_rules[{i}]: expected (regex, 'train' | 'freeze'), got {tuple(rule)!r}")
        try:
            compiled.append((re.compile(rule[0]), rule[1]))
        except re.error as e:
            raise UserError(f"config.train_rules[{i}]: invalid regex {rule[0]!r} ({e})") from None
    return compiled


def freeze_labels(params: Any, rules: Sequence[Sequence[str]]) -> tuple[Any, list[dict[str, Any]]]:
    """Labels each parameter "train" or "freeze" by the first rule whose regex fullmatches its path.

    Args:
      params: a params pytree (nested dicts).
      rules: ordered `(regex, "train" | "freeze")` pairs.

    Returns:
      (labels, table): a pytree of labels with the structure of `params`, and one row per rule with the
      rule's regex, label, and the numbers of tensors and scalars it matched.

    Raises:
      UserError: a rule is malformed, or some parameter matches no rule (the message names it).
    """
    compiled = _check_rules(rules)
    leaves, treedef = jax.tree.flatten(params)
    table = [{"rule": r.pattern, "label": lab, "tensors": 0, "params": 0} for r, lab in compiled]
    labels = []
    for path, leaf in zip(param_paths(params), leaves, strict=True):
        hit = next((i for i, (r, _) in enumerate(compiled) if r.fullmatch(path)), None)
        if hit is None:
            raise UserError(f"config.train_rules: parameter {path!r} matches no rule; add a catch-all ('.*', 'freeze')")
        labels.append(compiled[hit][1])
        table[hit]["tensors"] += 1
        table[hit]["params"] += int(np.prod(np.shape(leaf)))
    return jax.tree.unflatten(treedef, labels), table


def format_table(table: list[dict[str, Any]], title: str = "generator") -> str:
    """The per-rule trainable/frozen counts as a small text table, with totals."""
    width = max([len(row["rule"]) for row in table] + [4])
    lines = [f"{title} parameters by rule (first match wins):", f"  {'rule':<{width}}  label   tensors      params"]
    for row in table:
        lines.append(f"  {row['rule']:<{width}}  {row['label']:<6}  {row['tensors']:>7}  {row['params']:>10,}")
    for label in (TRAIN, FREEZE):
        n = sum(r["params"] for r in table if r["label"] == label)
        lines.append(f"  {'total ' + label:<{width}}          {'':>7}  {n:>10,}")
    return "\n".join(lines)


def lr_schedule(lr: float, milestones: Sequence[int] = (), gamma: float = 0.5) -> optax.Schedule | float:
    """A constant learning rate, multiplied by `gamma` at each milestone step (PyTorch MultiStepLR)."""
    if not milestones:
        return lr
    return optax.piecewise_constant_schedule(lr, {int(m): gamma for m in milestones})


def adam(optim: Any, lr: float | None = None) -> optax.GradientTransformation:
    """Adam from a config's `optim` block (lr, b1, b2, milestones, gamma); `lr` overrides `optim.lr`."""
    schedule = lr_schedule(optim.lr if lr is None else lr, tuple(optim.milestones), optim.gamma)
    return optax.adam(schedule, b1=optim.b1, b2=optim.b2)


def make_optimizer(
    tx: optax.GradientTransformation, params: Any, rules: Sequence[Sequence[str]]
) -> tuple[optax.GradientTransformation, list[dict[str, Any]]]:
    """Wraps `tx` so only parameters labelled "train" by `rules` are updated.

    Args:
      tx: the optimizer of the trainable parameters.
      params: the params pytree (only its structure and paths are used).
      rules: ordered `(regex, "train" | "freeze")` pairs (see `freeze_labels`).

    Returns:
      (optimizer, table): the multi-transform optimizer and the per-rule counts of `freeze_labels`.
    """
    labels, table = freeze_labels(params, rules)
    return optax.multi_transform({TRAIN: tx, FREEZE: optax.set_to_zero()}, labels), table
