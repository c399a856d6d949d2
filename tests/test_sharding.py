"""Tests for esrgan_jax.sharding: CPU cores as JAX devices, and that sharded inference equals one device."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import jax
import pytest

from esrgan_jax import sharding
from esrgan_jax.models.store import save_model
from tests.support import HP, tiny

REPO = Path(__file__).resolve().parents[1]

TWO_DEVICES = textwrap.dedent(
    """
    import json, jax, numpy as np
    from esrgan_jax import sharding
    assert sharding.use_cpu_cores() == 2
    assert sharding.use_cpu_cores() is None  # backends not started yet, but the count is now the user's
    from esrgan_jax.inference.upscaler import Upscaler
    from esrgan_jax.models import RRDBNet
    g = RRDBNet(num_feat=8, num_block=1, num_grow_ch=8)
    params = g.init_params(jax.random.PRNGKey(0))
    image = np.random.default_rng(0).random((40, 36, 3), np.float32)
    reference = np.asarray(jax.jit(g.apply)({"params": params}, image[None]))[0]
    specs, ahead = {}, []
    for s in [(2, 16, 16, 3), (1, 16, 16, 3), (1, 15, 16, 3), (1, 8, 16, 3)]:
        mesh = sharding.mesh_for(s)
        specs[str(s)] = [mesh.devices.size, *sharding.image_sharding(mesh, s).spec]
        placed = sharding.put_batch({"lr": np.zeros(s, np.float32)}, mesh)["lr"]
        shape = sharding.batch_shapes({"lr": np.zeros(s, np.float32)}, mesh)["lr"]
        ahead.append((shape.shape, shape.dtype, shape.sharding) == (placed.shape, placed.dtype, placed.sharding))
    out = {}
    for tile, pad in ((0, 0), (16, 8)):
        up = Upscaler((g, params), tile=tile, tile_pad=pad, tile_batch=1)
        sr = up.upscale(image)
        out[f"{tile}"] = float(np.abs(sr - np.clip(reference, 0, 1)).max())
    print(json.dumps({"n": jax.device_count(), "specs": specs, "ahead": ahead, "diff": out}))
    """
)


TRAIN_ROWS = textwrap.dedent(
    """
    import jax, numpy as np, optax
    from esrgan_jax import sharding
    sharding.use_cpu_cores(2)
    from esrgan_jax import sharding; from esrgan_jax.training import state as train_state, step as train_steps
    from esrgan_jax.models import RRDBNet
    g = RRDBNet(num_feat=8, num_block=1, num_grow_ch=8)
    params = g.init_params(jax.random.PRNGKey(0))
    cfg = train_steps.StepConfig(generator=g, g_tx=optax.sgd(0.1), pixel_loss="mse")
    rng = np.random.default_rng(0)
    batch = {"lr": rng.random((1, 16, 16, 3), np.float32), "hr": rng.random((1, 64, 64, 3), np.float32)}
    out = []
    for mesh_devices in (jax.devices(), jax.devices()[:1]):
        mesh = sharding.make_mesh(mesh_devices)
        placed = sharding.put_batch(batch, mesh)
        state = sharding.put_replicated(train_state.create_train_state(params, cfg.g_tx), mesh)
        # compiled ahead from shapes, as the training loop does: a compiled step refuses any other sharding
        shapes = sharding.shapes(state, sharding.replicated(mesh)), sharding.batch_shapes(batch, mesh), {}
        step = train_steps.compile_train_step(cfg, mesh).lower(*shapes).compile()
        for _ in range(2):
            state, metrics = step(state, placed, {})
        out.append((jax.device_get(state.g_params), float(metrics["l_g_pix"])))
        print(len(mesh_devices), [s.data.shape for s in placed["lr"].addressable_shards])
    diff = max(jax.tree.leaves(jax.tree.map(lambda a, b: float(np.abs(a - b).max()), out[0][0], out[1][0])))
    print(diff, out[0][1], out[1][1])
    """
)


def _run(code: str, **env: str) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if k not in ("XLA_FLAGS", "ESRGAN_JAX_CPU_DEVICES")}
    full_env.update(env, JAX_PLATFORMS="cpu")
    return subprocess.run([sys.executable, "-c", code], cwd=REPO, env=full_env, capture_output=True, text=True)


def test_two_cpu_devices_shard_rows_and_images_and_match_one_device():
    proc = _run(TWO_DEVICES, ESRGAN_JAX_CPU_DEVICES="2")
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(proc.stdout.splitlines()[-1])
    assert got["n"] == 2
    assert got["specs"] == {
        "(2, 16, 16, 3)": [2, "data"],  # two images: one per device
        "(1, 16, 16, 3)": [2, None, "data"],  # one image: rows split
        "(1, 15, 16, 3)": [1, "data"],  # odd rows: one device, not the same work twice
        "(1, 8, 16, 3)": [1, "data"],  # 4-row slabs would be mostly halo: one device
    }
    assert got["ahead"] == [True] * 4  # batch_shapes: what put_batch places, as shapes to compile ahead for
    # whole image (40 rows split 20/20) and 16-pixel tiles (32-row windows split 16/16) equal the unsharded net
    assert got["diff"]["0"] < 1e-5 and got["diff"]["16"] < 1e-5, got["diff"]


def test_batch_of_one_trains_split_by_rows_and_equals_one_device():
    proc = _run(TRAIN_ROWS)
    assert proc.returncode == 0, proc.stderr[-3000:]
    two, one, result = proc.stdout.splitlines()[-3:]
    assert two == "2 [(1, 8, 16, 3), (1, 8, 16, 3)]"  # 8 rows per device
    assert one == "1 [(1, 16, 16, 3)]"
    diff, loss_two, loss_one = map(float, result.split())
    assert diff < 1e-6 and abs(loss_two - loss_one) < 1e-7 * loss_one, result


MANY = textwrap.dedent(
    """
    from esrgan_jax import sharding
    sharding.use_cpu_cores(16)
    # a 276-row upscale tile, a batch of 16 / 6 / 1 LR patches of 32 rows, whole images of 501 and 499 rows
    print([sharding.split_count(s) for s in [(1, 276), (16, 32), (6, 32), (1, 32), (1, 501), (1, 499)]])
    """
)


def test_many_devices_use_the_most_that_divide_never_a_replica():
    proc = _run(MANY)
    assert proc.returncode == 0, proc.stderr[-3000:]
    # 276 rows = 12 x 23, 32 rows = 4 x 8, 501 = 3 x 167; 499 is prime: one device
    assert proc.stdout.split("\n")[-2] == "[12, 16, 6, 4, 3, 1]"


def test_env_var_is_validated_and_user_settings_win():
    bad = _run("from esrgan_jax.sharding import use_cpu_cores; use_cpu_cores()", ESRGAN_JAX_CPU_DEVICES="two")
    assert bad.returncode != 0
    assert "UserError: $ESRGAN_JAX_CPU_DEVICES='two': expected a whole number >= 1" in bad.stderr
    code = "import jax; from esrgan_jax.sharding import use_cpu_cores; print(use_cpu_cores(), jax.device_count())"
    assert _run(code, XLA_FLAGS="--xla_force_host_platform_device_count=3").stdout.split() == ["None", "3"]
    assert _run(code, ESRGAN_JAX_CPU_DEVICES="3").stdout.split() == ["3", "3"]


def test_in_a_running_process_the_count_is_left_alone():
    jax.devices()  # this test process's backends are up (one device: tests/conftest.py)
    assert sharding.use_cpu_cores(4) is None
    assert jax.device_count() == 1


API = textwrap.dedent(
    """
    import warnings
    import numpy as np
    from esrgan_jax import Upscaler
    import jax
    if {jax_first}:
        jax.devices()  # something started JAX before the Upscaler
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        up = Upscaler({weights!r}, tile=0)
        up.upscale(np.zeros((16, 16, 3), np.float32))
    (placed,) = up._placed.values()  # the parameters as placed for the call
    print(jax.local_device_count(), len(jax.tree.leaves(placed)[0].devices()))
    print("|".join(str(w.message) for w in caught))
    """
)


@pytest.mark.skipif(sharding.cpu_core_count() < 2, reason="needs a machine with two or more cores")
def test_upscaler_uses_every_core_by_itself_or_says_once_why_not(tmp_path):
    module, params = tiny()
    weights = str(save_model(tmp_path / "tiny", "rrdbnet", HP, {"params": params}))
    n = sharding.cpu_core_count()
    fast = _run(API.format(jax_first=False, weights=weights), ESRGAN_JAX_CPU_DEVICES="")
    assert fast.returncode == 0, fast.stderr[-3000:]
    assert fast.stdout.split("\n")[-3:-1] == [f"{n} {n}", ""]  # a device per core, parameters on all, no warning
    slow = _run(API.format(jax_first=True, weights=weights), ESRGAN_JAX_CPU_DEVICES="")
    assert slow.returncode == 0, slow.stderr[-3000:]
    assert slow.stdout.split("\n")[-3:-1] == [
        "1 1",
        f"esrgan_jax: JAX already runs on 1 CPU device(s), so this uses that many of {n} cores; call "
        "esrgan_jax.use_cpu_cores() before anything else uses JAX (or set jax_num_cpu_devices)",
    ]
