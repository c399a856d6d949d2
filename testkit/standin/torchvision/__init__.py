"""The tests' stand-in for torchvision (never installed: a multi-GB CUDA build): only the names that `lpips` and
`spandrel` import. `testkit.torchvision_standin` puts it on sys.path for one test module."""

from . import models, transforms  # noqa: F401
