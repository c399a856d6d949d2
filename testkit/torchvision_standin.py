"""A stand-in for torchvision: the few names `lpips` and `spandrel` import, put on sys.path for a `with` block.

torchvision itself is a multi-GB CUDA build that nothing here needs; testkit/standin/torchvision holds the stand-in.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def torchvision_standin(make_vgg16=None, unload: tuple[str, ...] = ()) -> Iterator[None]:
    """Puts testkit/standin (a torchvision with the few names lpips and spandrel import) on sys.path.

    Args:
      make_vgg16: what `torchvision.models.vgg16()` returns (a callable building the torch module).
      unload: top-level packages imported on top of it, removed from sys.modules afterwards with torchvision.
    """
    root = str(Path(__file__).resolve().parent / "standin")
    # A real torchvision imported earlier (the GPU machine has one) would be used instead: set it aside meanwhile.
    saved = {name: sys.modules.pop(name) for name in list(sys.modules) if name.split(".")[0] == "torchvision"}
    sys.path.insert(0, root)
    try:
        import torchvision.models

        torchvision.models.make_vgg16 = make_vgg16
        yield
    finally:
        sys.path.remove(root)
        for name in [m for m in sys.modules if m.split(".")[0] in ("torchvision", *unload)]:
            del sys.modules[name]
        sys.modules.update(saved)
