"""SRVGGNetCompact, Real-ESRGAN's compact generator: its record. `model` is the Flax module, `torch_keys` reads
and spells Real-ESRGAN's `body.{i}` keys, `ncnn` proves and reads realesr-animevideov3's ncnn graph."""

from esrgan_jax.architectures.compact import ncnn, torch_keys
from esrgan_jax.architectures.compact.model import SRVGGNetCompact
from esrgan_jax.architectures.record import Architecture, Layout, NcnnReader

ARCHITECTURE = Architecture(
    kind="compact",
    module=SRVGGNetCompact,
    generator=True,
    trunk=r"body_\d+/.*",  # the whole network is its body: a fine-tune trains all of it
    detect=torch_keys.detect,
    convert=torch_keys.convert,
    layouts={"basicsr": Layout(lambda hparams: torch_keys.key_fn, "params_ema")},
    ncnn=NcnnReader(ncnn.detect, ncnn.convert_files),
)
