#!/usr/bin/env bash
# The GPU check (issue 18): the literal and the --optimize script of the example on
# spleen-sized synthetic data, CUDA + AMP, and torchrun of the multi_gpu script.
#
# Here:   make gpu-prep          (compiles the scripts, downloads the wheels: build/gpu/)
# There:  benchmarks/gpu.sh      (carry build/gpu; under 8 minutes on one GPU)
# Then:   make bench             (folds benchmarks/gpu_results.json into results.md)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build/gpu}
if [ -d "$BUILD/wheels" ]; then
    python3 -m pip install --quiet --no-deps --no-index "$BUILD"/wheels/*.whl
fi
exec python3 benchmarks/gpu_bench.py "$BUILD" benchmarks/gpu_results.json "$@"
