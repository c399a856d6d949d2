"""esrgan_jax/architectures (the records and the tables derived from them): every kind is listed once, the commands'
tables come from the list in its order, every generator offers the generator interface, and the default train
rules train exactly each generator's trunk."""

from __future__ import annotations

import jax
import numpy as np
import pytest

import weights_conversion
from esrgan_jax import architectures
from esrgan_jax.models import GENERATOR_KINDS, MODELS, build_model
from esrgan_jax.models.store import load_generator, save_model
from esrgan_jax.training import optim
from esrgan_jax.training.defaults import TRUNK_ONLY
from weights_conversion.to_torch import LAYOUTS

KINDS = ["rrdbnet", "vgg_discriminator", "vgg19", "vgg16", "srcnn", "lpips", "compact", "swinir"]
# Small hparams of each generator kind.
GENERATORS = {
    "rrdbnet": {"num_in_ch": 3, "num_out_ch": 3, "scale": 2, "num_feat": 8, "num_block": 2, "num_grow_ch": 4},
    "srcnn": {"num_channels": 1, "scale": 3, "filters": [8, 4], "kernels": [9, 5, 5]},
    "compact": {"num_in_ch": 3, "num_out_ch": 3, "num_feat": 8, "num_conv": 2, "scale": 3},
    "swinir": {
        "embed_dim": 8,
        "depths": [2, 1],
        "num_heads": [2, 1],
        "window_size": 4,
        "upsampler": "pixelshuffle",
        "scale": 2,
    },
}


def test_every_table_is_derived_from_the_list_in_its_order():
    assert [arch.kind for arch in architectures.ARCHITECTURES] == KINDS
    assert list(MODELS) == KINDS and list(weights_conversion.KINDS) == KINDS
    assert GENERATOR_KINDS == ("rrdbnet", "srcnn", "compact", "swinir")
    assert list(LAYOUTS) == ["rrdbnet", "vgg_discriminator", "srcnn", "compact", "swinir"]
    assert list(LAYOUTS["rrdbnet"]) == ["basicsr", "esrgan-new", "esrgan-old"]
    assert [arch.kind for arch in weights_conversion.NCNN_READERS] == ["rrdbnet", "compact"]
    assert build_model("vgg16", {}).arch == "vgg16"  # a kind's fixed hparams
    with pytest.raises(ValueError, match="unknown model kind 'hat'"):
        build_model("hat", {})


@pytest.mark.parametrize("kind", GENERATORS)
def test_generators_offer_the_interface_and_load_from_model_json(tmp_path, kind):
    module = build_model(kind, GENERATORS[kind])
    assert (module.scale, module.in_channels) == (GENERATORS[kind]["scale"], 1 if kind == "srcnn" else 3)
    assert module.pre_upsample is (kind == "srcnn")
    assert module.input_multiple == (2 if kind == "rrdbnet" else 1)  # RRDBNet x2 pixel-unshuffles by 2
    assert module.tile_multiple == {"rrdbnet": 2, "swinir": 4}.get(kind, 1)  # SwinIR: its window
    params = jax.eval_shape(module.init_params, jax.random.key(0))
    save_model(tmp_path / kind, kind, GENERATORS[kind], {"params": jax.tree.map(lambda s: np.zeros(s.shape), params)})
    loaded, _ = load_generator(tmp_path / kind)
    assert type(loaded) is type(module) and loaded.scale == module.scale


# RRDBNet's trunk is its RRDBs (conv_first, conv_body and the upsampler stay as converted); a compact's is all;
# SwinIR's is its residual Swin transformer blocks.
TRUNKS = {
    "rrdbnet": {"body_0", "body_1"},
    "compact": {f"body_{i}" for i in range(7)},
    "swinir": {"layers_0", "layers_1"},
}


@pytest.mark.parametrize("kind", TRUNKS)
def test_default_rules_train_each_generators_trunk(kind):
    module = build_model(kind, GENERATORS[kind])
    params = jax.eval_shape(module.init_params, jax.random.key(0))
    labels, _ = optim.freeze_labels(params, TRUNK_ONLY)
    trunk, _ = optim.freeze_labels(params, ((architectures.architecture(kind).trunk, "train"), (".*", "freeze")))
    assert labels == trunk
    paths = zip(optim.param_paths(params), jax.tree.leaves(labels), strict=True)
    assert {path.split("/")[0] for path, label in paths if label == "train"} == TRUNKS[kind]
