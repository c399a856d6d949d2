"""The model-directory format: save/load round trips, atomic replacement, and one-line errors."""

from __future__ import annotations

import json

import jax
import numpy as np
import orbax.checkpoint as ocp
import pytest

from esrgan_jax import CheckpointError, load_discriminator, load_generator, load_model, load_vgg, save_model
from esrgan_jax.models import RRDBNet, VGGStyleDiscriminator
from esrgan_jax.models.store import load_variables, read_meta, resolve_model_dir

HP = {"num_in_ch": 3, "num_out_ch": 3, "scale": 4, "num_feat": 4, "num_block": 1, "num_grow_ch": 4}


def random_like(tree, seed: int):
    leaves, treedef = jax.tree.flatten(tree)
    rng = np.random.default_rng(seed)
    return jax.tree.unflatten(treedef, [rng.standard_normal(x.shape).astype(np.float32) for x in leaves])


@pytest.fixture(scope="module")
def generator_params():
    abstract = jax.eval_shape(RRDBNet(**HP).init, jax.random.key(0), np.zeros((1, 4, 4, 3), np.float32))
    return random_like(abstract["params"], seed=0)  # shapes only: nothing is compiled


def same_tree(a, b) -> bool:
    return jax.tree.structure(a) == jax.tree.structure(b) and all(
        np.array_equal(x, y) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True)
    )


def test_generator_round_trip(tmp_path, generator_params):
    source = {"file": "g.pth", "sha256": "ab" * 32, "layout": "basicsr", "key": "params_ema"}
    assert save_model(tmp_path / "g", "rrdbnet", HP, {"params": generator_params}, source) == tmp_path / "g"
    module, params = load_generator(tmp_path / "g")
    assert module == RRDBNet(**HP)
    assert same_tree(params, generator_params)
    meta = read_meta(tmp_path / "g")
    assert meta == {"format": "esrgan-jax/1", "kind": "rrdbnet", "hparams": HP, "collections": ["params"],
                    "source": source}  # fmt: skip
    # Overrides reach the module (e.g. a bfloat16 compute dtype for GPUs).
    module16, _, _ = load_model(tmp_path / "g", "rrdbnet", dtype="bfloat16")
    assert module16.dtype == "bfloat16"


def test_discriminator_round_trip_keeps_batch_stats(tmp_path):
    module = VGGStyleDiscriminator(num_feat=4)
    variables = random_like(jax.eval_shape(module.init, jax.random.key(0), np.zeros((1, 128, 128, 3))), seed=1)
    save_model(tmp_path / "d", "vgg_discriminator", {"num_in_ch": 3, "num_feat": 4, "input_size": 128}, variables)
    loaded_module, loaded = load_discriminator(tmp_path / "d")
    assert loaded_module == module
    assert sorted(loaded) == ["batch_stats", "params"] and same_tree(loaded, variables)


def test_vgg_layers_override(tmp_path):
    from esrgan_jax.models import VGG16Features

    # Only the layers up to the deepest one asked for hold parameters, so relu1_2 keeps this small.
    abstract = jax.eval_shape(VGG16Features(("relu1_2",)).init, jax.random.key(0), np.zeros((1, 8, 8, 3)))
    params = random_like(abstract["params"], seed=3)
    save_model(tmp_path / "v", "vgg16", {"layers": ["relu1_2"], "use_input_norm": True}, {"params": params})
    module, loaded = load_vgg(tmp_path / "v", layers=("relu1_1",))
    assert module.arch == "vgg16" and module.layers == ("relu1_1",) and same_tree(loaded, params)
    assert sorted(module.apply({"params": loaded}, np.zeros((1, 8, 8, 3), np.float32))) == ["relu1_1"]


def test_float16_storage_halves_the_variables_and_loads_them_as_float32(tmp_path, generator_params):
    variables = {"params": generator_params, "batch_stats": {"count": np.arange(3, dtype=np.int32)}}
    save_model(tmp_path / "f32", "rrdbnet", HP, variables)
    save_model(tmp_path / "f16", "rrdbnet", HP, variables, storage="float16")
    assert read_meta(tmp_path / "f16")["storage"] == "float16" and "storage" not in read_meta(tmp_path / "f32")
    meta, loaded = load_variables(tmp_path / "f16")
    rounded = jax.tree.map(lambda a: a.astype(np.float16).astype(np.float32), generator_params)
    assert same_tree(loaded["params"], rounded) and not same_tree(rounded, generator_params)  # rounded, only that
    assert {x.dtype for x in jax.tree.leaves(loaded["params"])} == {np.dtype(np.float32)}
    assert loaded["batch_stats"]["count"].dtype == np.int32 and loaded["batch_stats"]["count"].tolist() == [0, 1, 2]
    with ocp.StandardCheckpointer() as ckptr:  # what the files hold
        raw = ckptr.restore((tmp_path / "f16" / "variables").absolute())
    assert {x.dtype for x in jax.tree.leaves(raw["params"])} == {np.dtype(np.float16)}
    with pytest.raises(CheckpointError, match=r"^storage 'bfloat16': expected one of float32, float16$"):
        save_model(tmp_path / "bf16", "rrdbnet", HP, variables, storage="bfloat16")


def test_workdir_export_is_resolved(tmp_path, generator_params):
    save_model(tmp_path / "run" / "export", "rrdbnet", HP, {"params": generator_params})
    assert resolve_model_dir(tmp_path / "run") == tmp_path / "run" / "export"
    _, params = load_generator(tmp_path / "run")
    assert same_tree(params, generator_params)


def test_replace_is_atomic(tmp_path, generator_params, monkeypatch):
    save_model(tmp_path / "g", "rrdbnet", HP, {"params": generator_params}, {"file": "first"})
    newer = random_like(generator_params, seed=2)
    save_model(tmp_path / "g", "rrdbnet", HP, {"params": newer}, {"file": "second"})
    assert read_meta(tmp_path / "g")["source"] == {"file": "second"}
    assert same_tree(load_generator(tmp_path / "g")[1], newer)
    assert [p.name for p in tmp_path.iterdir()] == ["g"]  # no .partial / .old directories left

    # A write that dies half-way leaves the previous model intact and no partial directory.
    def crash(self, *args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(ocp.StandardCheckpointer, "save", crash)
    with pytest.raises(OSError, match="disk full"):
        save_model(tmp_path / "g", "rrdbnet", HP, {"params": generator_params}, {"file": "third"})
    assert read_meta(tmp_path / "g")["source"] == {"file": "second"}
    assert [p.name for p in tmp_path.iterdir()] == ["g"]


def test_errors_are_one_line_and_name_the_path(tmp_path, generator_params):
    def message(fn, *args) -> str:
        with pytest.raises(CheckpointError) as exc:
            fn(*args)
        assert exc.value.exit_code == 2 and "\n" not in str(exc.value)
        return str(exc.value)

    missing = tmp_path / "missing"
    assert message(load_generator, missing) == (
        f"{missing}: no such model directory (convert one with `python -m weights_conversion`)"
    )
    assert message(load_generator, tmp_path) == (
        f"{tmp_path}: not an esrgan-jax model directory (no model.json, no export/model.json)"
    )
    save_model(tmp_path / "g", "rrdbnet", HP, {"params": generator_params})
    assert (
        message(load_discriminator, tmp_path / "g")
        == f"{tmp_path / 'g'}: holds a 'rrdbnet' model, expected vgg_discriminator"
    )
    assert message(load_vgg, tmp_path / "g") == f"{tmp_path / 'g'}: holds a 'rrdbnet' model, expected vgg19 or vgg16"

    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "a.txt").write_text("keep")
    assert message(save_model, tmp_path / "notes", "rrdbnet", HP, {"params": generator_params}) == (
        f"{tmp_path / 'notes'}: exists and is not an esrgan-jax model directory; refusing to overwrite it"
    )
    assert (tmp_path / "notes" / "a.txt").read_text() == "keep"

    meta_file = tmp_path / "g" / "model.json"
    meta = json.loads(meta_file.read_text())
    meta_file.write_text(json.dumps({**meta, "format": "esrgan-jax/0"}))
    assert message(load_generator, tmp_path / "g") == f"{meta_file}: format 'esrgan-jax/0', expected 'esrgan-jax/1'"
    meta_file.write_text("{not json")
    assert message(read_meta, tmp_path / "g").startswith(f"{meta_file}: not valid JSON (")
    meta_file.write_text("[1, 2]")
    assert message(read_meta, tmp_path / "g") == f"{meta_file}: holds a JSON list, expected an object"
    meta_file.write_text(json.dumps({**meta, "kind": "resnet"}))
    assert message(read_meta, tmp_path / "g") == (
        f"{meta_file}: 'kind' must be one of rrdbnet, vgg_discriminator, vgg19, vgg16, srcnn, lpips, compact, "
        "swinir and 'hparams' an object; got kind 'resnet'"
    )
    meta_file.write_text(json.dumps({**meta, "hparams": {**meta["hparams"], "num_blocks": 2}}))
    assert message(load_generator, tmp_path / "g").startswith(f"{meta_file}: bad 'hparams' (")
    meta_file.write_text(json.dumps(meta))
    data = max((p for p in (tmp_path / "g" / "variables").rglob("*") if p.is_file()), key=lambda p: p.stat().st_size)
    saved = data.read_bytes()
    data.write_bytes(saved[: len(saved) // 2])  # a download cut short
    assert message(load_generator, tmp_path / "g").startswith(
        f"{tmp_path / 'g' / 'variables'}: cannot read the model's variables ("
    )
    data.write_bytes(saved)
    for p in sorted((tmp_path / "g" / "variables").rglob("*"), reverse=True):
        p.unlink() if p.is_file() else p.rmdir()
    (tmp_path / "g" / "variables").rmdir()
    assert (
        message(load_generator, tmp_path / "g") == f"{tmp_path / 'g'}: missing variables/ (incomplete model directory)"
    )
