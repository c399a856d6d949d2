"""The training state: everything a train step reads and writes, as one pytree that orbax saves whole.

Collections a config does not use are empty dicts (no discriminator for MSE/L1 training, no EMA copy when
`ema_decay` is 0), so one state type and one checkpoint layout serve every config.
"""

from __future__ import annotations

from typing import Any

import flax
import jax
import jax.numpy as jnp
import optax


@flax.struct.dataclass
class TrainState:
    """Generator and discriminator parameters, their optimizer states, D's BN statistics and the EMA copy.

    Attributes:
      step: number of completed train steps (int32 scalar); also the index of the next batch.
      rng: a raw uint32[2] PRNG key; steps derive per-step keys with `fold_in(rng, step)`.
      g_params: generator parameters.
      g_opt: generator optimizer state (frozen parameters hold no Adam moments).
      d_params: discriminator parameters ({} without a GAN loss).
      d_batch_stats: discriminator BatchNorm running statistics ({} without a GAN loss).
      d_opt: discriminator optimizer state ({} without a GAN loss).
      ema_params: exponential moving average of `g_params` ({} when EMA is off).
    """

    step: jax.Array
    rng: jax.Array
    g_params: Any
    g_opt: Any
    d_params: Any
    d_batch_stats: Any
    d_opt: Any
    ema_params: Any

    @property
    def has_gan(self) -> bool:
        return bool(self.d_params)

    @property
    def has_ema(self) -> bool:
        return bool(self.ema_params)


def create_train_state(
    g_params: Any,
    g_tx: optax.GradientTransformation,
    *,
    seed: int = 0,
    d_variables: dict[str, Any] | None = None,
    d_tx: optax.GradientTransformation | None = None,
    ema: bool = False,
) -> TrainState:
    """A fresh state at step 0.

    Args:
      g_params: initial generator parameters (converted, or random).
      g_tx: generator optimizer (already wrapped by `optim.make_optimizer` for freezing).
      seed: seed of the state's PRNG key.
      d_variables: discriminator {"params", "batch_stats"} when training with a GAN loss, else None.
      d_tx: discriminator optimizer (required with `d_variables`).
      ema: keep an EMA copy of the generator, initialised to `g_params` (as BasicSR's `net_g_ema`).
    """
    # Copies: the compiled step donates the state, which must not delete the caller's arrays.
    g_params = jax.tree.map(jnp.array, g_params)
    d_params, d_stats, d_opt = {}, {}, {}
    if d_variables is not None:
        if d_tx is None:
            raise ValueError("create_train_state: d_tx is required with d_variables")
        d_params = jax.tree.map(jnp.array, d_variables["params"])
        d_stats = jax.tree.map(jnp.array, d_variables.get("batch_stats", {}))
        d_opt = d_tx.init(d_params)
    return TrainState(
        step=jnp.zeros((), jnp.int32),
        rng=jax.random.PRNGKey(seed),
        g_params=g_params,
        g_opt=g_tx.init(g_params),
        d_params=d_params,
        d_batch_stats=d_stats,
        d_opt=d_opt,
        ema_params=jax.tree.map(jnp.array, g_params) if ema else {},
    )


def generator_params(state: TrainState) -> Any:
    """The parameters to evaluate and export: the EMA copy when there is one (as BasicSR's `params_ema`)."""
    return state.ema_params if state.has_ema else state.g_params
