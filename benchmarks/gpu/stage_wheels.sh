#!/usr/bin/env bash
# Stages, on a machine with network, what `python -m benchmarks.gpu.check` needs on a GPU machine without one,
# into git-ignored folders of the checkout that travel with it (docs/performance.md, "GPU check"):
#   .whl/          wheels (x86-64 Linux, CPython $PY_VERSION, default 3.12) of the packages the check imports that a
#                  JAX + PyTorch CUDA image usually lacks: dm-pix (scoring), ml-collections (configs), pypng (image
#                  files), tensorboardX (training's recorder), grain + array-record + portpicker (the training
#                  pipeline), lpips (the LPIPS parity oracle; its torchvision import is replaced by testkit's stand-in)
#   .gpu_data/Set5 a copy of Set5 (HR/ + LR_bicubic/X4/), from ../shared/data/benchmarks/Set5 or $1
# tensorflow-datasets is not staged: only `tfds:` data sources import it, and the check uses none.
# Usage: [PY_VERSION=3.11] bash benchmarks/gpu/stage_wheels.sh [SET5_DIR]
set -euo pipefail
cd "$(dirname "$0")/../.."  # the checkout's root

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
python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version "${PY_VERSION:-3.12}" --implementation cp \
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
