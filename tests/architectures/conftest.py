"""Fixtures of the architecture tests: spandrel's Compact and SwinIR with random weights (the independent PyTorch
oracles of SRVGGNetCompact and SwinIR)."""

from __future__ import annotations

import warnings
from collections.abc import Callable

import pytest

from testkit.torch_models import compact_init_, swinir_init_


@pytest.fixture(scope="module")
def random_compact(spandrel) -> Callable:
    """`(seed, num_in_ch=3, num_feat=16, num_conv=2, scale=4)` -> spandrel's Compact with random weights."""
    from spandrel.architectures.Compact import Compact

    def make(seed: int, num_in_ch: int = 3, num_feat: int = 16, num_conv: int = 2, scale: int = 4):
        model = Compact(num_in_ch=num_in_ch, num_out_ch=num_in_ch, num_feat=num_feat, num_conv=num_conv, upscale=scale)
        return compact_init_(model, seed)

    return make


@pytest.fixture(scope="module")
def random_swinir(spandrel) -> Callable:
    """`(seed, **kwargs)` -> spandrel's SwinIR (the official class) with random weights; kwargs are its own."""
    from spandrel.architectures.SwinIR import SwinIR

    def make(seed: int, **kwargs):
        with warnings.catch_warnings():  # torch.meshgrid without indexing=, inside the official WindowAttention
            warnings.simplefilter("ignore", UserWarning)
            return swinir_init_(SwinIR(**kwargs), seed)

    return make
