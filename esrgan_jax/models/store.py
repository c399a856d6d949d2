"""The on-disk format of converted and exported models, and the loaders that rebuild them.

A model directory holds `model.json` (kind, hyper-parameters, provenance) and `variables/`, an orbax
checkpoint of `{"params": ..., ["batch_stats": ...]}`, in float32, or in float16 where `model.json` says
`"storage": "float16"` (half the size; loaded as float32). A training workdir holds its exported generator in
`WORKDIR/export/`, so every loader takes either. Directories are written beside their destination and renamed
into place, so an interrupted write never leaves a half-written model.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import flax.linen as nn
import jax
import numpy as np
import orbax.checkpoint as ocp

from esrgan_jax.errors import UserError
from esrgan_jax.fileio import make_temp_dir, replace_dir
from esrgan_jax.filekind import misnamed
from esrgan_jax.models import GENERATOR_KINDS, MODELS, build_model

FORMAT = "esrgan-jax/1"
META_FILE = "model.json"
VARIABLES_DIR = "variables"
EXPORT_DIR = "export"
STORAGES = ("float32", "float16")


class CheckpointError(UserError):
    """A model directory is missing, incomplete, or of the wrong kind. The message is one line."""


def save_model(
    dst: str | os.PathLike,
    kind: str,
    hparams: dict[str, Any],
    variables: dict[str, Any],
    source: dict[str, Any] | None = None,
    storage: str = "float32",
) -> Path:
    """Writes `variables` (a dict with "params" and optionally "batch_stats") as a model directory at `dst`.

    An existing model directory at `dst` is replaced only once the new one is complete. `storage` "float16"
    rounds every floating-point array to float16 on disk (`load_variables` returns float32 again).
    """
    if storage not in STORAGES:
        raise CheckpointError(f"storage {storage!r}: expected one of {', '.join(STORAGES)}")
    dst = Path(dst).absolute()
    if dst.exists() and not (dst / META_FILE).exists():
        raise CheckpointError(f"{dst}: exists and is not an esrgan-jax model directory; refusing to overwrite it")
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = make_temp_dir(dst)
    try:
        tree = jax.tree.map(np.asarray, dict(variables))
        if storage != "float32":
            tree = jax.tree.map(lambda a: _stored(a, storage), tree)
        # Host numpy arrays, written by the calling process alone: in a multi-process run only process 0
        # exports, and orbax's default would wait at a barrier for the others.
        me = jax.process_index()
        solo = ocp.options.MultiprocessingOptions(primary_host=me, active_processes={me})
        with ocp.StandardCheckpointer(multiprocessing_options=solo) as ckptr:
            ckptr.save(tmp / VARIABLES_DIR, tree)
        meta = {"format": FORMAT, "kind": kind, "hparams": hparams, "collections": sorted(tree), "source": source or {}}
        if storage != "float32":
            meta["storage"] = storage
        (tmp / META_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
        replace_dir(tmp, dst)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dst


def _stored(a: np.ndarray, storage: str) -> np.ndarray:
    """An array as written: floating-point arrays in the storage dtype, others (integer counters) unchanged."""
    return a.astype(storage) if a.dtype.kind == "f" else a


def resolve_model_dir(path: str | os.PathLike) -> Path:
    """A model directory, or the `export/` of a training workdir; a clear error otherwise."""
    path = Path(path)
    if (path / META_FILE).is_file():
        return path
    if (path / EXPORT_DIR / META_FILE).is_file():
        return path / EXPORT_DIR
    if not path.exists():
        raise CheckpointError(f"{path}: no such model directory (convert one with `python -m weights_conversion`)")
    if other := misnamed(path, "model-dir"):
        raise CheckpointError(other)
    raise CheckpointError(f"{path}: not an esrgan-jax model directory (no {META_FILE}, no {EXPORT_DIR}/{META_FILE})")


def read_meta(path: str | os.PathLike) -> dict[str, Any]:
    """The parsed `model.json` of a model directory or training workdir."""
    mdir = resolve_model_dir(path)
    file = mdir / META_FILE
    try:
        meta = json.loads(file.read_bytes())
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as e:
        reason = str(e).splitlines()[0][:200] if str(e) else type(e).__name__
        raise CheckpointError(misnamed(file, "json") or f"{file}: not valid JSON ({reason})") from None
    except OSError as e:
        raise CheckpointError(f"{file}: cannot read ({e.strerror or type(e).__name__})") from None
    if not isinstance(meta, dict):
        raise CheckpointError(f"{file}: holds a JSON {type(meta).__name__}, expected an object")
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"{file}: format {meta.get('format')!r}, expected {FORMAT!r}")
    kinds = list(MODELS)
    if meta.get("kind") not in kinds or not isinstance(meta.get("hparams"), dict):
        raise CheckpointError(
            f"{file}: 'kind' must be one of {', '.join(kinds)} and 'hparams' an object; got kind {meta.get('kind')!r}"
        )
    return meta


def load_variables(path: str | os.PathLike) -> tuple[dict[str, Any], dict[str, Any]]:
    """Returns (meta, variables) of a model directory or training workdir; arrays are numpy."""
    mdir = resolve_model_dir(path)
    meta = read_meta(mdir)
    if not (mdir / VARIABLES_DIR).is_dir():
        raise CheckpointError(f"{mdir}: missing {VARIABLES_DIR}/ (incomplete model directory)")
    try:
        with ocp.StandardCheckpointer() as ckptr:
            variables = ckptr.restore((mdir / VARIABLES_DIR).absolute())
    except Exception as e:  # orbax, tensorstore and msgpack raise many types for a damaged or edited directory
        reason = " ".join(str(e).split())[:200] or type(e).__name__
        raise CheckpointError(f"{mdir / VARIABLES_DIR}: cannot read the model's variables ({reason})") from None
    if not isinstance(variables, dict) or "params" not in variables:
        raise CheckpointError(f"{mdir / VARIABLES_DIR}: holds no 'params' (incomplete model directory)")
    variables = jax.tree.map(np.asarray, variables)
    if meta.get("storage", "float32") != "float32":  # widened back: the modules compute from float32 parameters
        variables = jax.tree.map(lambda a: _stored(a, "float32"), variables)
    return meta, variables


def load_model(
    path: str | os.PathLike, expected_kind: str | tuple[str, ...] | None = None, **overrides: Any
) -> tuple[nn.Module, dict[str, Any], dict[str, Any]]:
    """Returns (module, variables, meta); `overrides` go to the module (e.g. dtype=jnp.bfloat16)."""
    meta, variables = load_variables(path)
    kinds = (expected_kind,) if isinstance(expected_kind, str) else expected_kind
    if kinds and meta["kind"] not in kinds:
        raise CheckpointError(f"{path}: holds a {meta['kind']!r} model, expected {' or '.join(kinds)}")
    try:
        module = build_model(meta["kind"], meta["hparams"], **overrides)
    except (TypeError, ValueError) as e:  # hparams a module does not take, or of the wrong type
        raise CheckpointError(f"{resolve_model_dir(path) / META_FILE}: bad 'hparams' ({e})") from None
    return module, variables, meta


def load_generator(path: str | os.PathLike, **overrides: Any) -> tuple[nn.Module, dict[str, Any]]:
    """(module, params) of a converted or trained generator (any of `GENERATOR_KINDS`), ready for `module.apply`."""
    module, variables, _ = load_model(path, GENERATOR_KINDS, **overrides)
    return module, variables["params"]


def load_discriminator(path: str | os.PathLike, **overrides: Any) -> tuple[nn.Module, dict[str, Any]]:
    """(module, variables) of a VGG-style discriminator; variables hold "params" and "batch_stats"."""
    module, variables, _ = load_model(path, "vgg_discriminator", **overrides)
    return module, variables


def load_vgg(path: str | os.PathLike, **overrides: Any) -> tuple[nn.Module, dict[str, Any]]:
    """(module, params) of converted VGG19/VGG16 features; pass `layers=(...)` to choose outputs."""
    module, variables, _ = load_model(path, ("vgg19", "vgg16"), **overrides)
    return module, variables["params"]


def load_lpips(path: str | os.PathLike, **overrides: Any) -> tuple[nn.Module, dict[str, Any]]:
    """(module, params) of a converted LPIPS (VGG16 backbone + linear layers); see `models.lpips`."""
    module, variables, _ = load_model(path, "lpips", **overrides)
    return module, variables["params"]
