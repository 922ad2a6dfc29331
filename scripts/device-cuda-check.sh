#!/usr/bin/env bash
# The CTranslate2 engine's CUDA path on a lent GPU machine: what the machine has, the engine's check
# (bench/ct2_cuda_check.py) and, when that passes, the node benchmark on the GPU
# (bench/ct2_throughput.py --device cuda). Wheels for what the machine lacks travel in .whl/
# (see docs/performance.md); results go to $OUT.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/udn-cuda-check}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1
echo "== the machine"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>&1
python3 --version
echo "== CUDA libraries the dynamic loader knows"
ldconfig -p 2>/dev/null | grep -E "libcublas|libcudart" || echo "(none)"
echo "== CUDA libraries on disk"
find / -xdev \( -name 'libcublas.so*' -o -name 'libcudart.so*' \) 2>/dev/null | sort | head -20
if [ -d .whl ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --no-build-isolation \
    --target /tmp/site .whl/* || exit 2
  export PYTHONPATH=/tmp/site:$PWD/src
fi
echo "== the engine's CUDA check"
python3 bench/ct2_cuda_check.py --out "$OUT"
status=$?
if [ "$status" -eq 0 ]; then
  echo "== the node benchmark on the GPU"
  python3 bench/ct2_throughput.py --device cuda --rounds 1 --seconds 5 --out "$OUT" 2>&1 | tee "$OUT/ct2_throughput.log"
fi
exit "$status"
