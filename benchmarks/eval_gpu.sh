#!/usr/bin/env bash
# Eval throughput on the lent GPU (benchmarks/eval_throughput.py): unpack what the earlier calls staged in /tmp/v
# (vLLM without its FA2 library, which Hopper does not use, packed as vllm.tar.zst, plus the wheels vLLM and lm-eval
# need beyond the image; made by the commands in benchmarks/RESULTS.md's eval section), then run the benchmark.
#   bash benchmarks/eval_gpu.sh OUT_DIR [benchmark args...]
set -euo pipefail
out="${1:?output folder}"; shift
repo="$(pwd)"
if [ ! -d /tmp/site/vllm ]; then
  cd /tmp/v
  cat b.part0* > bundle.tar && tar xf bundle.tar && rm -f bundle.tar b.part0*
  python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site ./*.whl "$repo"/.device/evdata/extra/*.whl
  PYTHONPATH=/tmp/site python3 - <<'PY'
import tarfile, zstandard
with open("/tmp/v/vllm.tar.zst", "rb") as f, zstandard.ZstdDecompressor().stream_reader(f) as r:
    tarfile.open(fileobj=r, mode="r|").extractall("/tmp/site")
PY
  cd "$repo"
fi
export VLLM_USE_FLASHINFER_SAMPLER=0 PYTHONPATH=/tmp/site:$repo VLLM_NO_USAGE_STATS=1 DO_NOT_TRACK=1 HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
python3 -c "import vllm, lm_eval, torch, transformers, pyarrow, datasets; print('vllm', vllm.__version__, 'torch', torch.__version__, 'transformers', transformers.__version__, 'pyarrow', pyarrow.__version__, 'datasets', datasets.__version__)"
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
python3 benchmarks/eval_throughput.py --out "$out" "$@"
