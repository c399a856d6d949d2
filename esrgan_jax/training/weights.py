"""The weights a run starts from, read from the model directories its `Sources` name (`preflight.find_sources`).

Every network's weights are read here, each when the run needs it, so none is held longer than it is used: VGG's
before the train step compiles (the step is compiled for their shapes), the generator's and discriminator's once
it has (they become the training state), LPIPS's when the validator is built.
"""

from __future__ import annotations

from typing import Any

from esrgan_jax.models import GENERATOR_KINDS
from esrgan_jax.models.store import load_model
from esrgan_jax.training.preflight import Sources

# The network named by each model directory of `Sources`, and the kinds it may hold.
KINDS = {
    "generator": GENERATOR_KINDS,
    "discriminator": ("vgg_discriminator",),
    "vgg": ("vgg19", "vgg16"),
    "lpips": ("lpips",),
}


def load_weights(sources: Sources, *networks: str) -> tuple[Any, ...]:
    """The weights of `networks` (fields of `Sources`: "generator", "discriminator", "vgg", "lpips"), in order.

    A network without a model directory (from scratch, or not used) gives None. The generator and VGG give their
    params, the discriminator its {"params", "batch_stats"}, LPIPS its (module, params), as an `LpipsScorer`
    takes them. Arrays are numpy, on the host.
    """
    loaded = []
    for name in networks:
        path = getattr(sources, name)
        if path is None:
            loaded.append(None)
            continue
        module, variables, _ = load_model(path, KINDS[name])
        if name == "discriminator":
            loaded.append(variables)
        elif name == "lpips":
            loaded.append((module, variables["params"]))
        else:
            loaded.append(variables["params"])
    return tuple(loaded)
