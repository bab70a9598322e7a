#!/usr/bin/env bash
# Issue 21's GPU figures in one device call (after the Transformer Engine parts are staged in /tmp/te, see
# ../shared/device/README.md): install TE + megatron-core (.device/wheels) and TRL + datasets (.whl, from
# benchmarks/gpu_wheels.sh), run the THD correctness tests, then moru SFT vs TRL SFTTrainer and moru DPO vs TRL
# DPOTrainer(precompute_ref_log_probs=True) on the 2.4B shape at seq 4096, same data (.bench_data, written by
# `python benchmarks/align_data.py --out .bench_data --vocab-size 102400 --seq-length 4096 --sft-examples 500
# --pairs 200 --seed 0`), same card, same call. Results: $OUT/*.json and the table printed last.
set -uo pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
cd /tmp/te && cat te_core.part0* > transformer_engine_cu13-2.20.2-py3-none-manylinux_2_28_x86_64.whl || exit 1
python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site /tmp/te/*.whl || exit 1
tar xzf te_torch_2.20.2_torch2.11_cu130_sm90.tgz -C /tmp/site || exit 1
cd - >/dev/null
python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site2 .whl/trl-*.whl .whl/datasets-*.whl \
  .whl/dill-*.whl .whl/multiprocess-*.whl || exit 1
export PYTHONPATH=/tmp/site:/tmp/site2:$PWD PYTHONUNBUFFERED=1 PYTHONWARNINGS=ignore
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$OUT/card.txt"
mkdir -p /tmp/x && cp tests/megatron_train/test_thd_gpu.py /tmp/x/ && (cd /tmp/x && python3 -m pytest -q -p no:cacheprovider test_thd_gpu.py 2>&1 | tail -3) | tee "$OUT/thd_tests.txt"
COMMON="--shape exaone-3.5-2.4b --seq-length 4096 --data .bench_data ${ALIGN_STEPS:---warmup 3 --steps 10}"
python3 benchmarks/align_moru.py --which moru-sft $COMMON --tokens-per-step 32768 --json "$OUT/moru_sft.json" 2>&1 | grep -v -i warn | tail -4
python3 benchmarks/align_throughput.py --which trl-sft $COMMON --tokens-per-step 32768 --sft-input bins --json "$OUT/trl_sft.json" 2>&1 | grep -v -i warn | tail -6
python3 benchmarks/align_moru.py --which moru-dpo $COMMON --pairs-per-step 16 --dpo-micro-batch 1 --json "$OUT/moru_dpo.json" 2>&1 | grep -v -i warn | tail -4
python3 benchmarks/align_throughput.py --which trl-dpo $COMMON --pairs-per-step 16 --json "$OUT/trl_dpo.json" 2>&1 | grep -v -i warn | tail -6
python3 benchmarks/align_moru.py --which moru-sft $COMMON --tokens-per-step 32768 --precision fp8 --json "$OUT/moru_sft_fp8.json" 2>&1 | grep -v -i warn | tail -2
python3 benchmarks/align_report.py "$OUT"
