"""The `lpips` PyTorch package as an oracle, built on a seeded random VGG16 instead of downloaded ImageNet weights.

`lpips` imports `torchvision.models`, which is either not installed (never install it here: a multi-GB CUDA
build) or would download ImageNet weights; it is built on the tests' stand-in torchvision
(`testkit.torchvision_standin`), whose `vgg16()` returns `backbone()`. The linear layers are the real v0.1
weights shipped in the `lpips` wheel. Used by tests/models/test_lpips.py and the GPU check (benchmarks/gpu/parity.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch

from testkit.torch_models import VGGTorch, randomize_
from testkit.torchvision_standin import torchvision_standin

SEED = 3


def backbone() -> VGGTorch:
    """The random VGG16 the stand-in hands to `lpips` (the same weights on every call)."""
    return randomize_(VGGTorch("vgg16"), seed=SEED)


@contextmanager
def lpips_on_random_vgg16() -> Iterator[torch.nn.Module]:
    """`lpips.LPIPS(net='vgg', version='0.1')` on `backbone()`; `lpips` and the stand-in are unloaded afterwards.

    Raises ModuleNotFoundError when the `lpips` package is not installed.
    """
    with torchvision_standin(backbone, unload=("lpips",)):
        import lpips

        yield lpips.LPIPS(net="vgg", version="0.1", verbose=False)
