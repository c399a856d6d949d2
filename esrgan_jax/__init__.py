"""esrgan-jax: ESRGAN super-resolution in JAX/Flax (convert, fine-tune, evaluate, upscale)."""

from esrgan_jax.errors import UserError, run_cli
from esrgan_jax.inference.upscaler import Upscaler
from esrgan_jax.models.store import (
    CheckpointError,
    load_discriminator,
    load_generator,
    load_model,
    load_vgg,
    save_model,
)
from esrgan_jax.sharding import use_cpu_cores

__version__ = "0.1.0"

__all__ = [
    "CheckpointError",
    "load_discriminator",
    "load_generator",
    "load_model",
    "load_vgg",
    "save_model",
    "UserError",
    "Upscaler",
    "run_cli",
    "use_cpu_cores",
]
