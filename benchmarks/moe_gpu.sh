#!/usr/bin/env bash
# Issue 24's GPU figures (benchmarks/moe_gpu.py) on the lent card, after the Transformer Engine parts are staged in
# /tmp/te (../shared/device/README.md; .device/wheels holds TE's Python package, its prebuilt torch extension,
# megatron-core 0.16.1 and pydantic for Python 3.12). Installs once per machine, then runs moe_gpu.py with the given
# arguments; results under $OUT.
#   bash benchmarks/moe_gpu.sh --runs moe_bf16,dense_bf16,moe_fp8,dense_fp8 --steps 30
set -uo pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
if [ ! -d /tmp/site/transformer_engine ]; then
  (cd /tmp/te && cat te_core.part0* > transformer_engine_cu13-2.20.2-py3-none-manylinux_2_28_x86_64.whl \
    && python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site /tmp/te/*.whl \
    && tar xzf te_torch_2.20.2_torch2.11_cu130_sm90.tgz -C /tmp/site) || exit 1
fi
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1 PYTHONWARNINGS=ignore
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee -a "$OUT/card.txt"
python3 -c "import transformer_engine.pytorch, megatron.core; print('TE', transformer_engine.__version__, 'mcore', megatron.core.__version__)"
python3 benchmarks/moe_gpu.py --out /tmp/moe "$@" 2>&1 | grep -v -i "warn" | tail -40
cp /tmp/moe/*.json "$OUT/" 2>/dev/null; true
