"""Packaging: configs/ installs as `esrgan_jax.configs` (no top-level `configs` package), every package folder is
listed in pyproject.toml, the built-in model's files are package data, and every named config loads by path the way
`python -m esrgan_jax.train` loads it."""

from __future__ import annotations

import glob
from pathlib import Path

import pytest
from absl import flags
from ml_collections import config_flags

from esrgan_jax import train
from esrgan_jax.models import GENERATOR_KINDS

REPO = Path(__file__).resolve().parents[1]
NAMES = (
    "compact_x4",
    "demo",
    "esrgan_x4",
    "mse",
    "perceptual",
    "perceptual_esrgan",
    "psnr_x4",
    "srcnn",
    "swinir_light",
)


def test_pyproject_lists_every_package_and_maps_configs_into_esrgan_jax():
    tomllib = pytest.importorskip("tomllib")
    setuptools = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    folders = {
        ".".join(init.parent.relative_to(REPO).parts)
        for top in ("esrgan_jax", "weights_conversion")
        for init in (REPO / top).rglob("__init__.py")
    }
    assert set(setuptools["packages"]) == folders | {"esrgan_jax.configs"}
    assert setuptools["package-dir"] == {"esrgan_jax.configs": "configs"}


def test_package_data_holds_every_file_of_the_built_in_model():
    tomllib = pytest.importorskip("tomllib")
    patterns = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    folder = REPO / "esrgan_jax" / "weights"
    matched = {
        Path(p) for pattern in patterns["esrgan_jax.weights"] for p in glob.glob(str(folder / pattern), recursive=True)
    }
    files = {p for p in (folder / "compact_x4").rglob("*") if p.is_file()}
    assert len(files) >= 3 and {p for p in matched if p.is_file()} == files  # setuptools globs them the same way


@pytest.mark.parametrize("name", NAMES)
def test_named_config_loads_by_path_as_the_cli_does(name, monkeypatch):
    path = train.resolve_config_path(name)
    assert Path(path) == REPO / "configs" / f"{name}.py"
    fv = flags.FlagValues()
    config_flags.DEFINE_config_file("config", None, "", lock_config=True, flag_values=fv)
    argv = ["train", f"--config={path}", "--config.train.seed=7"]
    monkeypatch.setattr("sys.argv", argv)  # config_flags reads the --config.KEY overrides from sys.argv
    fv(argv)
    assert fv.config.train.seed == 7 and fv.config.model.kind in GENERATOR_KINDS
