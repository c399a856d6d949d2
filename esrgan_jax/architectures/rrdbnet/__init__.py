"""RRDBNet, the ESRGAN generator: its record. The Flax module is `esrgan_jax.models.rrdbnet`; `torch_keys` reads
and spells its three PyTorch key layouts, `ncnn` proves and reads Real-ESRGAN's ncnn graphs of it."""

from esrgan_jax.architectures.record import Architecture, Layout, NcnnReader
from esrgan_jax.architectures.rrdbnet import ncnn, torch_keys
from esrgan_jax.models.rrdbnet import RRDBNet

ARCHITECTURE = Architecture(
    kind="rrdbnet",
    module=RRDBNet,
    generator=True,
    trunk=r"body_\d+/.*",  # the RRDB trunk; conv_first, conv_body and the upsampler keep their weights
    detect=torch_keys.detect,
    convert=torch_keys.convert,
    layouts={
        "basicsr": Layout(torch_keys.layout_keys("basicsr"), "params_ema"),
        "esrgan-new": Layout(torch_keys.layout_keys("esrgan-new"), None, torch_keys.refuse_x4_only("esrgan-new")),
        "esrgan-old": Layout(torch_keys.layout_keys("esrgan-old"), None, torch_keys.refuse_x4_only("esrgan-old")),
    },
    ncnn=NcnnReader(ncnn.detect, ncnn.convert_files),
)
