"""`Upscaler`: a loaded generator that upscales numpy images of any size, kind and bit depth.

The network always sees float32 RGB in [0, 1], in fixed-shape tiles (see `esrgan_jax.inference.tiling`), so one compile
serves every image. Around it: grayscale is run as 3-channel gray and reduced back (BT.601 weights, as
Real-ESRGAN's cv2 round trip does); an alpha channel is upscaled by the model the same way or by bicubic and
re-attached; uint8/uint16/float come back as the same kind; SRCNN-style models get their bicubic pre-upsampling;
a one-channel (luminance) model sees the Y of a colour image, whose Cb/Cr are upscaled by bicubic; two
checkpoints can be blended on the fly (ESRGAN's network interpolation); an opt-in colour fix matches the output's
colours to the bicubic upscale of the input (`esrgan_jax.inference.color_fix`). Without weights it loads the
model that ships inside the package (`esrgan_jax.weights`) and says so on stderr.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import flax.linen as nn
import jax
import numpy as np

from esrgan_jax.errors import UserError
from esrgan_jax.image.color import upscale_luma
from esrgan_jax.image.pixels import quantize
from esrgan_jax.image.resize import imresize
from esrgan_jax.inference.color_fix import COLOR_FIXES, color_fix
from esrgan_jax.inference.compiled import FORWARD
from esrgan_jax.inference.conv_path import for_inference, prepare
from esrgan_jax.inference.tiling import DEFAULT_TILE, DEFAULT_TILE_PAD, run_tiled
from esrgan_jax.models import GENERATOR_KINDS, compute_dtype, network_input
from esrgan_jax.models.blend import blend, check_alpha, check_compatible
from esrgan_jax.models.store import load_model
from esrgan_jax.sharding import ensure_cpu_cores, place
from esrgan_jax.weights import builtin_dir, describe

ALPHA_UPSAMPLERS = ("model", "bicubic")
_GRAY = np.array([0.299, 0.587, 0.114], np.float32)  # cv2 RGB2GRAY, which Real-ESRGAN applies to gray output


def _load(weights: Any, dtype: Any) -> tuple[nn.Module, dict[str, Any], dict[str, Any]]:
    """(module, params, meta) from a model directory / workdir, or from a `(module, params)` pair."""
    if isinstance(weights, tuple):
        module, params = weights
        meta = {"kind": type(module).__name__.lower(), "hparams": {"scale": module.scale}}
        return module.clone(dtype=dtype), params, meta
    module, variables, meta = load_model(weights, GENERATOR_KINDS, dtype=dtype)
    return module, variables["params"], meta


class Upscaler:
    """A generator ready to upscale numpy images; tiles of one shape, so it compiles once (and upscalers of equal
    architectures share their compiles).

    Args:
      weights: a model directory or training workdir of a generator kind, or a `(module, params)` pair; None:
        the built-in model (`esrgan_jax.weights`), announced in one line on stderr.
      tile: core tile size in input pixels; 0 = whole image per call (compiles once per image size); None = the
        model's default: 512, or for a SwinIR the largest of 512, 384, 256, 128 whose window keeps the forward under
        4 GiB (`SwinIR.default_tile`).
      tile_pad: overlap on each side of a tile, cropped away (Real-ESRGAN's default is 10; a trained 23-block
        model needs ~64 to stay within a few levels of whole-image output, see README); in the network's own
        resolution, so x2/x1 models (pixel-unshuffled by 2/4) get 2x/4x as many input pixels. None = the model's
        default: 64, or 32 for a SwinIR (the official test script's overlap).
      tile_batch: tiles per device call; default 4 on GPU/TPU, 1 on CPU (where batching buys no speed and the
        filler tiles of a last, partial batch would cost full compute).
      dtype: compute dtype, "float32" or "bfloat16" (parameters stay float32).
      weights_b: a second checkpoint of the same kind and hyper-parameters to blend with `weights`.
      alpha: blend weight of `weights_b`: params = (1 - alpha) * A + alpha * B.
      alpha_upsampler: "model" (alpha run as gray through the network) or "bicubic".
      color_fix: "none", "mean" or "wavelet": match the colour channels' means or low frequencies to the MATLAB
        bicubic upscale of the input (whole-image, in float32: the output is held unquantised once).
    """

    def __init__(
        self,
        weights: str | os.PathLike | tuple[nn.Module, Any] | None = None,
        *,
        tile: int | None = None,
        tile_pad: int | None = None,
        tile_batch: int | None = None,
        dtype: str = "float32",
        weights_b: str | os.PathLike | tuple[nn.Module, Any] | None = None,
        alpha: float = 0.8,
        alpha_upsampler: str = "model",
        color_fix: str = "none",
    ):
        ensure_cpu_cores()  # the CLIs' one-device-per-core set-up, for Python callers too (before JAX starts)
        jdtype = compute_dtype(dtype)
        if alpha_upsampler not in ALPHA_UPSAMPLERS:
            raise UserError(f"alpha upsampler {alpha_upsampler!r}: expected one of {', '.join(ALPHA_UPSAMPLERS)}")
        if color_fix not in COLOR_FIXES:
            raise UserError(f"color fix {color_fix!r}: expected one of {', '.join(COLOR_FIXES)}")
        if (tile or 0) < 0 or (tile_pad or 0) < 0 or (tile_batch is not None and tile_batch < 1):
            raise UserError(
                f"tile {tile}, tile-pad {tile_pad}, tile-batch {tile_batch}: expected tile, pad >= 0, batch >= 1"
            )
        if weights is None:
            print(describe("pass weights=DIR"), file=sys.stderr)
            weights = builtin_dir()
        self.module, params, meta = _load(weights, jdtype)
        if weights_b is not None:
            check_alpha(alpha)
            _, params_b, meta_b = _load(weights_b, jdtype)
            check_compatible(weights, weights_b, meta, meta_b, params, params_b)
            params = blend(params, params_b, alpha)
        self.meta = meta
        self.module = for_inference(self.module)  # Winograd where it is faster here (inference.conv_path)
        self.scale = int(self.module.scale)
        self.channels = self.module.in_channels
        # A model that needs other tiles to stay within memory says so (SwinIR); the others take the defaults.
        self.tile = getattr(self.module, "default_tile", DEFAULT_TILE) if tile is None else tile
        self.tile_pad = getattr(self.module, "default_tile_pad", DEFAULT_TILE_PAD) if tile_pad is None else tile_pad
        self.tile_batch = tile_batch or (1 if jax.default_backend() == "cpu" else 4)
        self.alpha_upsampler = alpha_upsampler
        self.color_fix = color_fix
        self.compilations = 0  # compiles this upscaler caused (the forward is shared: see inference.compiled)
        # Each call's tiles (or a tile's rows) are split over as many local devices as divide them, and those
        # devices hold the parameters: a CPU presented as one device per core (esrgan_jax.sharding) uses its cores.
        self.set_params(params)

    def set_params(self, params: Any) -> None:
        """Swaps in other parameters of the same module (e.g. training's latest); nothing is compiled again.

        None drops the parameters and their copies on the devices (until the next `set_params`)."""
        self._params = None if params is None else prepare(self.module, params)
        self._placed: dict[int, Any] = {}  # device count -> parameters replicated on that many devices

    def _call(self, batch: np.ndarray) -> jax.Array:
        before = FORWARD.compilations
        out = FORWARD(self.module, *place(self._params, batch, self._placed))
        self.compilations += FORWARD.compilations - before
        return out

    def _run(self, image: np.ndarray, post, progress: bool) -> np.ndarray:
        """[H, W, C] float32 with C = model channels -> post(output) at `scale`."""
        net_scale, multiple, align = self.scale, self.module.input_multiple, self.module.tile_multiple
        if self.module.pre_upsample:
            image, net_scale, multiple, align = network_input(self.module, image), 1, 1, 1
        return run_tiled(
            self._call,
            image,
            scale=net_scale,
            tile=self.tile,
            # pixel-unshuffle models (RRDBNet x2/x1) run at 1/multiple of the input resolution: keep tile_pad
            # pixels of context there
            pad=self.tile_pad * multiple,
            batch=self.tile_batch,
            post=post,
            multiple=align,
            progress=progress,
        )

    def _planes(self, image: np.ndarray, quant, progress: bool) -> np.ndarray:
        """Float [H, W, 1 or 3] -> quantised [sH, sW, same channels], matching the image to the model's channels."""
        c = image.shape[-1]
        if c == self.channels:
            return self._run(image, quant, progress)
        if c == 1:  # gray through an RGB model: replicate, then reduce back like Real-ESRGAN
            return self._run(np.repeat(image, 3, -1), lambda y: quant(np.clip(y, 0, 1) @ _GRAY[:, None]), progress)
        # RGB through a one-channel (luminance) model, as SRCNN was published: Y through the net, CbCr bicubic
        return quant(upscale_luma(lambda y: self._run(y, lambda v: v, progress), image, self.scale))

    def upscale(self, image: np.ndarray, *, outscale: float | None = None, progress: bool = False) -> np.ndarray:
        """Upscales one image by the model's scale (or by `outscale`).

        Args:
          image: [H, W] or [H, W, C] with C in (1, 3, 4) (alpha last); uint8, uint16 or float in [0, 1].
          outscale: final scale relative to the input; the model's output is resized (MATLAB bicubic) to it.
          progress: show a tqdm bar over the tile batches.

        Returns:
          [round(H * outscale), round(W * outscale)(, C)], the same dtype and channel layout as `image`.
        """
        image = np.asarray(image)
        if image.dtype not in (np.uint8, np.uint16) and image.dtype.kind != "f":
            raise UserError(f"image dtype {image.dtype}: expected uint8, uint16 or float")
        if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[-1] not in (1, 3, 4)):
            raise UserError(f"image shape {image.shape}: expected [H, W] or [H, W, C] with C = 1, 3 or 4")
        x = image[..., None] if image.ndim == 2 else image
        top = float(np.iinfo(image.dtype).max) if image.dtype.kind == "u" else 1.0
        x = x.astype(np.float32) / np.float32(top)
        quant = lambda a: quantize(a, image.dtype)  # noqa: E731
        color, alpha = (x[..., :3], x[..., 3:]) if x.shape[-1] == 4 else (x, None)
        if self.color_fix == "none":
            out = self._planes(color, quant, progress)
        else:  # the fix needs the whole float output; tiles are quantised only after it
            sr = self._planes(color, lambda a: np.asarray(a, np.float32), progress)
            reference = np.asarray(imresize(color, float(self.scale)), np.float32)
            out = quant(color_fix(sr, reference.reshape(sr.shape), self.color_fix))
        if alpha is not None:
            if self.alpha_upsampler == "model":
                out_alpha = self._planes(alpha, quant, progress)
            else:
                out_alpha = quant(np.asarray(imresize(alpha[..., 0], self.scale), np.float32)[..., None])
            out = np.concatenate([out, out_alpha], -1)
        if outscale is not None and outscale != self.scale:
            out = quant(_resize_to(out.astype(np.float32) / np.float32(top), image.shape[:2], outscale))
        return out[..., 0] if image.ndim == 2 else out


def _resize_to(image: np.ndarray, size: tuple[int, int], outscale: float) -> np.ndarray:
    """Resizes the model output [sH, sW, C] to round(size * outscale) with MATLAB bicubic (float, unrounded)."""
    shape = (max(1, round(size[0] * outscale)), max(1, round(size[1] * outscale)))
    return np.asarray(imresize(image, output_shape=shape), np.float32)
