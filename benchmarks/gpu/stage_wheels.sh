#!/usr/bin/env bash
# Stages what `python -m benchmarks.gpu.check` needs on the GPU machine and that machine lacks, into git-ignored
# folders that the device tool carries with the working tree (64 MiB in all):
#   .whl/          wheels for Python 3.12 / x86-64 Linux of the packages missing there (pinned below)
#   .gpu_data/Set5 a copy of Set5 (HR/ + LR_bicubic/X4/), from ../shared/data/benchmarks/Set5 or $1
# The GPU image already has jax/jaxlib + CUDA plugin, flax, optax, orbax-checkpoint, torch, scikit-image, absl-py,
# chex, etils, cloudpickle, protobuf, psutil, PyYAML, tqdm, matplotlib, pillow, tifffile, safetensors, tensorboard
# (the device tool's KINDS.md). Missing there, and imported on the check's paths:
#   dm-pix (esrgan_jax.scoring.metrics), ml-collections (configs), pypng (esrgan_jax.image.formats),
#   tensorboardX (training's recorder), grain + array-record + portpicker (the training pipeline; grain imports
#   both), lpips (the LPIPS parity oracle; its torchvision import is replaced by tests/lpips_reference.py's stand-in).
# Not staged: tensorflow-datasets and importlib-resources (imported only for `tfds:` data sources, which the check
# does not use). Versions are the ones this project is developed and tested with.
# Usage: bash benchmarks/gpu/stage_wheels.sh [SET5_DIR]   (then see README.md, Performance, "GPU check")
set -euo pipefail
cd "$(dirname "$0")/.."

WHEELS=(
    dm-pix==0.4.5
    ml-collections==1.1.0
    pypng==0.20220715.0
    tensorboardX==2.6.5
    grain==0.2.18
    array-record==0.8.6
    portpicker==1.6.0
    lpips==0.1.4
)
PLATFORMS=(manylinux_2_28_x86_64 manylinux_2_27_x86_64 manylinux_2_24_x86_64 manylinux_2_17_x86_64
    manylinux2014_x86_64 manylinux1_x86_64)

rm -rf .whl
mkdir -p .whl
python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    "${PLATFORMS[@]/#/--platform=}" -d .whl "${WHEELS[@]}"
if [ "$(ls .whl/*.whl | wc -l)" -ne "${#WHEELS[@]}" ]; then
    echo "error: expected ${#WHEELS[@]} wheels in .whl/, got: $(ls .whl)" >&2
    exit 1
fi

SET5=${1:-../shared/data/benchmarks/Set5}
if [ ! -d "$SET5/HR" ] || [ ! -d "$SET5/LR_bicubic/X4" ]; then
    echo "error: $SET5 is not an EDSR-layout Set5 folder (HR/ + LR_bicubic/X4/)" >&2
    exit 1
fi
rm -rf .gpu_data
mkdir -p .gpu_data
cp -r "$SET5" .gpu_data/Set5

ls -l .whl
echo "wheels: $(du -cb .whl/*.whl | tail -1 | cut -f1) bytes; Set5: $(du -sb .gpu_data | cut -f1) bytes"
tracked=$(git ls-files -z | xargs -0 du -cb 2>/dev/null | tail -1 | cut -f1 || true)
untracked=$(git ls-files -z --others --exclude-standard | xargs -0 -r du -cb 2>/dev/null | tail -1 | cut -f1 || true)
total=$((tracked + ${untracked:-0} + $(du -sb .whl | cut -f1) + $(du -sb .gpu_data | cut -f1)))
echo "travels with carry=[\".whl\", \".gpu_data\"]: about $((total / 1048576)) MiB of the 64 MiB limit"
if [ "$total" -gt $((64 * 1048576)) ]; then
    echo "error: over the device tool's 64 MiB limit" >&2
    exit 1
fi
