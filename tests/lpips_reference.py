"""The `lpips` PyTorch package as an oracle, built on a seeded random VGG16 instead of downloaded ImageNet weights.

`lpips` imports `torchvision.models`, which is either not installed (never install it here: a multi-GB CUDA
build) or would download ImageNet weights. A stand-in `torchvision` package, whose `vgg16()` returns the tests'
torchvision-layout `VGGTorch('vgg16')`, is put first on sys.path while the model is built; the linear layers are
the real v0.1 weights shipped in the `lpips` wheel. Used by tests/test_lpips.py and the GPU check
(benchmarks/gpu_parity.py).
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch

from tests.torch_models import VGGTorch, randomize_

SEED = 3
STANDIN = f"""
from tests.torch_models import VGGTorch, randomize_

def vgg16(pretrained=False, **kwargs):
    return randomize_(VGGTorch("vgg16"), seed={SEED})
"""


def backbone() -> VGGTorch:
    """The random VGG16 the stand-in hands to `lpips` (the same weights on every call)."""
    return randomize_(VGGTorch("vgg16"), seed=SEED)


@contextmanager
def lpips_on_random_vgg16() -> Iterator[torch.nn.Module]:
    """`lpips.LPIPS(net='vgg', version='0.1')` on `backbone()`; `lpips` and the stand-in are unloaded afterwards.

    Raises ModuleNotFoundError when the `lpips` package is not installed.
    """
    with tempfile.TemporaryDirectory(prefix="torchvision-standin-") as tmp:
        root = Path(tmp)
        (root / "torchvision").mkdir()
        (root / "torchvision" / "__init__.py").write_text("from . import models\n")
        (root / "torchvision" / "models.py").write_text(STANDIN)
        # A real torchvision imported earlier would be used instead of the stand-in: unload it for the build.
        saved = {name: sys.modules.pop(name) for name in list(sys.modules) if name.split(".")[0] == "torchvision"}
        sys.path.insert(0, str(root))
        try:
            import lpips

            yield lpips.LPIPS(net="vgg", version="0.1", verbose=False)
        finally:
            sys.path.remove(str(root))
            for name in [m for m in sys.modules if m.split(".")[0] in ("torchvision", "lpips")]:
                del sys.modules[name]
            sys.modules.update(saved)
