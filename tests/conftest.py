"""Test-session setup: one CPU device per test process, whatever order the tests run in; the tiny training
assets shared by the end-to-end training tests; a disk that fills while checkpoints are written (`full_disk`).

The CLIs split the CPU into one JAX device per core (esrgan_jax.sharding) when they are the first to start
JAX's backends; in a pytest worker that depends on which test runs first. Pinning the count keeps every test's
device set fixed; tests/test_sharding.py checks the multi-device paths in subprocesses of their own.
"""

import builtins
import errno
import importlib.util
import os

import pytest

os.environ["ESRGAN_JAX_CPU_DEVICES"] = "1"


@pytest.fixture(scope="session")
def assets(tmp_path_factory):
    """A 3-image HR folder, a tiny converted-style generator and a (random) VGG19, as model directories
    (testkit.train_assets.make_assets); read-only for the tests that use it."""
    from testkit.train_assets import make_assets  # imported here: only training tests pay for it

    return make_assets(tmp_path_factory.mktemp("assets"))


@pytest.fixture(scope="module")
def lpips_torch():
    """`lpips.LPIPS(net='vgg')` on the stand-in torchvision's seeded random VGG16 (testkit/lpips_oracle.py): the
    oracle of the LPIPS tests; skipped without the `lpips` package."""
    from testkit.lpips_oracle import lpips_on_random_vgg16
    from weights_conversion.lpips import default_lin_path

    if default_lin_path() is None:
        pytest.skip("the lpips package (pip install --no-deps lpips) is not installed")
    with lpips_on_random_vgg16() as model:
        yield model


@pytest.fixture(scope="module")
def spandrel():
    """The spandrel package (chaiNNer's model loader: the independent oracle of exports and of the compact model)
    imported on the stand-in torchvision, whose names its registry imports; unloaded after the module."""
    if importlib.util.find_spec("spandrel") is None:
        pytest.skip("spandrel (pip install --no-deps spandrel==0.4.2) is not installed")
    from testkit.torchvision_standin import torchvision_standin

    with torchvision_standin(unload=("spandrel",)):
        import spandrel

        yield spandrel


@pytest.fixture
def full_disk(monkeypatch):
    """While on, opening a file for writing under a checkpoints/ folder fails with ENOSPC (the Python side of
    orbax's write path: the metadata written after the arrays)."""
    real_open, state = builtins.open, {"on": True}

    def open_(file, mode="r", *args, **kwargs):
        if state["on"] and "/checkpoints/" in str(file) and any(c in mode for c in "wax+"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(file))
        return real_open(file, mode, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", open_)
    return state
