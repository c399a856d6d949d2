"""Fixtures of the architecture tests: spandrel's Compact (the independent PyTorch oracle of SRVGGNetCompact)."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable

import pytest

from testkit.torch_models import compact_init_
from testkit.torchvision_standin import torchvision_standin


@pytest.fixture(scope="module")
def spandrel():
    """The spandrel package imported on the stand-in torchvision (its registry imports torchvision names)."""
    if importlib.util.find_spec("spandrel") is None:
        pytest.skip("spandrel (pip install --no-deps spandrel==0.4.2) is not installed")
    with torchvision_standin(unload=("spandrel",)):
        import spandrel

        yield spandrel


@pytest.fixture(scope="module")
def random_compact(spandrel) -> Callable:
    """`(seed, num_in_ch=3, num_feat=16, num_conv=2, scale=4)` -> spandrel's Compact with random weights."""
    from spandrel.architectures.Compact import Compact

    def make(seed: int, num_in_ch: int = 3, num_feat: int = 16, num_conv: int = 2, scale: int = 4):
        model = Compact(num_in_ch=num_in_ch, num_out_ch=num_in_ch, num_feat=num_feat, num_conv=num_conv, upscale=scale)
        return compact_init_(model, seed)

    return make
