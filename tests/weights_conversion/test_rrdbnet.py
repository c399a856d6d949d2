"""RRDBNet conversion parity: PyTorch generators saved in every real-world layout, converted with the CLI,
loaded with `esrgan_jax.load_generator`, must give the same output (max abs diff <= 1e-5, float32).

Layouts are produced the way they arise in the wild: BasicSR state dicts (raw, `params`, `params_ema` +
`params`, `module.` prefix, safetensors), the xinntao rename of BasicSR's `convert_models.py`, and a genuine
old-architecture `nn.Sequential` (OldESRGANTorch) whose keys come from its own module structure.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys

import jax
import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from esrgan_jax import load_generator
from testkit.torch_models import OldESRGANTorch, RRDBNetTorch, randomize_, to_xinntao
from weights_conversion.__main__ import main

ATOL = 1e-5
# Weight std giving image-like outputs (|y| ~ 0.1-1) that depend strongly on the input; 0.05 makes them ~1e-3.
STD = 0.1


def run_torch(model: torch.nn.Module, x: np.ndarray) -> np.ndarray:
    """[N, H, W, C] numpy through an NCHW torch module, back to [N, H', W', C']."""
    with torch.no_grad():
        return model(torch.from_numpy(x).permute(0, 3, 1, 2)).permute(0, 2, 3, 1).numpy()


def check_parity(model: torch.nn.Module, dst, in_ch: int, h: int, w: int) -> dict:
    """Runs converted and reference models on a random batch of 2; returns the saved hparams."""
    x = np.random.default_rng(0).random((2, h, w, in_ch), dtype=np.float32)
    module, params = load_generator(dst)
    got = np.asarray(jax.jit(module.apply)({"params": params}, x))  # one compile is cheaper than op by op
    want = run_torch(model, x)
    assert got.shape == want.shape
    # Outputs depend on the input far above the tolerance, so a wrong transpose, channel order or layer fails.
    assert np.abs(want[0] - want[1]).mean() > 0.02
    np.testing.assert_allclose(got, want, rtol=0, atol=ATOL)
    return json.loads((dst / "model.json").read_text())


# (name, scale, num_in_ch, num_out_ch, num_feat, num_block, num_grow_ch, wrap, suffix, (H, W))
CASES = [
    ("basicsr-raw", 4, 3, 3, 8, 1, 4, "raw", ".pth", (13, 17)),
    ("basicsr-params", 4, 3, 3, 16, 2, 8, "params", ".pth", (13, 17)),
    ("basicsr-params-ema", 4, 3, 3, 8, 2, 4, "params_ema", ".pth", (13, 17)),
    ("module-prefix", 4, 3, 3, 8, 1, 4, "module", ".pth", (11, 9)),
    ("xinntao-new", 4, 3, 3, 16, 2, 4, "xinntao", ".pth", (13, 17)),
    ("x2-pixel-unshuffle", 2, 3, 3, 8, 1, 4, "params_ema", ".pth", (14, 18)),
    ("x1-pixel-unshuffle", 1, 3, 3, 8, 1, 4, "params", ".pth", (12, 16)),
    ("x2-grayscale", 2, 1, 1, 8, 1, 4, "raw", ".pth", (10, 6)),
    ("safetensors", 4, 3, 3, 8, 2, 4, "raw", ".safetensors", (13, 17)),
    # Older torch wrote non-zip pickles (BasicSR publish_models re-saves that way); many community files are fp16.
    ("legacy-pickle-xinntao", 4, 3, 3, 8, 1, 4, "xinntao", "legacy", (13, 17)),
    ("fp16", 4, 3, 3, 8, 1, 4, "raw", "fp16", (13, 17)),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_basicsr_and_xinntao_layouts(tmp_path, case):
    name, scale, cin, cout, nf, nb, gc, wrap, suffix, (h, w) = case
    model = randomize_(RRDBNetTorch(cin, cout, scale, nf, nb, gc), seed=1, std=STD).eval()
    sd = model.state_dict()
    saved = {
        "raw": sd,
        "params": {"params": sd},
        # The EMA weights must win over the raw ones, which here are different (other seed).
        "params_ema": {
            "params_ema": sd,
            "params": randomize_(RRDBNetTorch(cin, cout, scale, nf, nb, gc), 2).state_dict(),
        },
        "module": {f"module.{k}": v for k, v in sd.items()},
        "xinntao": to_xinntao(sd),
    }[wrap]
    src = tmp_path / f"{name}{'.safetensors' if suffix == '.safetensors' else '.pth'}"
    if suffix == ".safetensors":
        save_file({k: v.contiguous() for k, v in saved.items()}, src)
    elif suffix == "legacy":
        torch.save(saved, src, _use_new_zipfile_serialization=False)
    elif suffix == "fp16":
        saved = {k: v.half() for k, v in saved.items()}
        model.load_state_dict(saved)  # the reference runs the same (fp16-rounded) weights in float32
        torch.save(saved, src)
    else:
        torch.save(saved, src)
    assert main([str(src), str(tmp_path / "out")]) == 0
    meta = check_parity(model, tmp_path / "out", cin, h, w)
    assert meta["kind"] == "rrdbnet"
    assert meta["hparams"] == {
        "num_in_ch": cin,
        "num_out_ch": cout,
        "scale": scale,
        "num_feat": nf,
        "num_block": nb,
        "num_grow_ch": gc,
    }
    assert meta["source"] == {
        "file": src.name,
        "sha256": hashlib.sha256(src.read_bytes()).hexdigest(),
        "layout": "esrgan-new" if wrap == "xinntao" else "basicsr",
        "key": wrap if wrap in ("params", "params_ema") else None,
    }


def test_old_esrgan_layout(tmp_path, capsys):
    model = randomize_(OldESRGANTorch(nf=8, nb=2, gc=4), seed=3, std=STD).eval()
    assert "model.1.sub.0.RDB1.conv1.0.weight" in model.state_dict()  # the layout arises from the module itself
    assert "model.1.sub.2.weight" in model.state_dict()
    torch.save(model.state_dict(), tmp_path / "RRDB_ESRGAN_x4_old.pth")
    assert main([str(tmp_path / "RRDB_ESRGAN_x4_old.pth"), str(tmp_path / "out"), "--kind", "rrdbnet"]) == 0
    assert "layout esrgan-old" in capsys.readouterr().out
    meta = check_parity(model, tmp_path / "out", 3, 9, 15)
    assert meta["hparams"]["num_block"] == 2 and meta["hparams"]["scale"] == 4
    assert meta["source"]["layout"] == "esrgan-old"


def test_summary_and_param_count(tmp_path, capsys):
    model = randomize_(RRDBNetTorch(num_feat=8, num_block=1, num_grow_ch=4), seed=4)
    torch.save({"params_ema": model.state_dict()}, tmp_path / "g.pth")
    main([str(tmp_path / "g.pth"), str(tmp_path / "g")])
    out = capsys.readouterr().out
    n = sum(p.numel() for p in model.parameters())
    assert f"kind rrdbnet, layout basicsr, {n:,} parameters" in out
    assert "[params_ema]" in out
    assert "num_in_ch=3, num_out_ch=3, scale=4, num_feat=8, num_block=1, num_grow_ch=4" in out


def test_entry_point_subprocess(tmp_path):
    model = randomize_(RRDBNetTorch(num_feat=8, num_block=1, num_grow_ch=4), seed=5, std=STD).eval()
    torch.save({"params": model.state_dict()}, tmp_path / "g.pth")
    proc = subprocess.run(
        [sys.executable, "-m", "weights_conversion", "g.pth", "out"], capture_output=True, text=True, cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stderr
    n = sum(p.numel() for p in model.parameters())
    assert proc.stdout.splitlines() == [
        "converted g.pth [params] -> out",
        f"  kind rrdbnet, layout basicsr, {n:,} parameters",
        "  num_in_ch=3, num_out_ch=3, scale=4, num_feat=8, num_block=1, num_grow_ch=4",
    ]
    check_parity(model, tmp_path / "out", 3, 5, 7)
