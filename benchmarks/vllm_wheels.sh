#!/usr/bin/env bash
# What benchmarks/eval_gpu.sh unpacks on the lent GPU machine (Python 3.12, torch 2.11.0+cu130, transformers 5.17,
# no internet, 64 MiB a call): vLLM and the packages it and lm-eval need beyond the image, made HERE into the
# git-ignored .device/vl/parts (4 parts of 54 MB, one carried per call) and .device/evdata (tokenizer + task files).
#
#     bash benchmarks/vllm_wheels.sh TOKENIZER_DIR ../shared/data/bench
#
# vLLM 0.21.0: the newest PyPI release pinned to torch==2.11.0 (0.20-0.26 are; 0.28+ pin 2.13+), built for CUDA 13
# (its _C links libcudart.so.13, as the image's torch does). Its 248 MB wheel holds a FlashAttention-2 library
# (190 MB unpacked) that Hopper does not use (vLLM picks FA3 on sm_90; the FA2 import is optional) and deep_gemm
# builds for other Pythons: both are left out, the rest packed as vllm.tar.zst (131 MB). flashinfer is not carried
# (FA3 attention; eval_gpu.sh sets VLLM_USE_FLASHINFER_SAMPLER=0, greedy decoding needs no top-k/top-p kernel).
# The other wheels are what `from vllm import LLM`, the engine core, the GPU model runner and lm-eval's vllm and hf
# backends import, found by importing them against the image's package list (KINDS.md): xgrammar 0.2.0 (the one
# built against apache-tvm-ffi 0.1.9, which vLLM 0.21 pins), llguidance <1.4, lm-eval 0.4.13, datasets 5.2.0, ...
set -euo pipefail
tok="${1:?tokenizer folder}"; bench="${2:?benchmark data folder}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
plat=(--only-binary=:all: --python-version 3.12 --implementation cp)
for p in manylinux_2_17_x86_64 manylinux2014_x86_64 manylinux_2_24_x86_64 manylinux_2_27_x86_64 manylinux_2_28_x86_64 \
         manylinux_2_31_x86_64 manylinux_2_34_x86_64 manylinux_2_35_x86_64; do plat+=(--platform "$p"); done
python3 -m pip download -q --no-deps "${plat[@]}" -d "$work/dl" vllm==0.21.0
mkdir -p "$work/x" "$work/stage"
(cd "$work/x" && unzip -q "$work"/dl/vllm-*.whl \
  && rm -f vllm/vllm_flash_attn/_vllm_fa2_C.abi3.so vllm/third_party/deep_gemm/_C.cpython-3{10,11,13,14}-*.so \
  && tar cf - vllm vllm-*.dist-info | zstd -19 -T0 -q -o "$work/stage/vllm.tar.zst")
python3 -m pip download -q --no-deps "${plat[@]}" -d "$work/stage" \
  annotated_types==0.8.0 apache_tvm_ffi==0.1.9 cachetools==8.0.3 cbor2==6.3.0 datasets==5.2.0 dill==0.4.1 \
  distro==1.9.0 fastapi==0.165.0 gguf==0.19.0 httpcore2==2.17.0 httpx2==2.17.0 jiter==0.19.0 llguidance==1.3.0 \
  lm_eval==0.4.13 more_itertools==11.2.1 msgspec==0.23.0 multiprocess==0.70.19 openai==3.63.0 openai_harmony==0.0.8 \
  opentelemetry_api==1.45.3 opentelemetry_sdk==1.45.2 opentelemetry_semantic_conventions==0.66b2 \
  partial_json_parser==0.2.1.1.post7 pybase64==1.5.1 pydantic==2.14.4 pydantic_core==2.50.5 pyzmq==27.3.0 \
  starlette==1.10.0 truststore==0.10.5 typing_inspection==0.4.5 xgrammar==0.2.0 zstandard==0.25.0
rm -rf "$root/.device/vl" "$root/.device/evdata"
mkdir -p "$root/.device/vl/parts" "$root/.device/vl/one" "$root/.device/evdata/bench/kobest" "$root/.device/evdata/extra"
(cd "$work/stage" && tar cf - .) | split -b 54000000 -d - "$root/.device/vl/parts/b.part"
python3 -m pip download -q --no-deps "${plat[@]}" -d "$root/.device/evdata/extra" sniffio==1.3.1
cp -r "$tok" "$root/.device/evdata/tokenizer"
cp "$bench/gsm8k_test.jsonl" "$bench/arc_challenge_test.jsonl.gz" "$root/.device/evdata/bench/"
cp -r "$bench/kobest/COPA" "$root/.device/evdata/bench/kobest/"
ls -la "$root/.device/vl/parts"
echo "carry .device/vl/one with one part per call (mkdir -p /tmp/v && cp .device/vl/one/* /tmp/v/), back to back;"
echo "the last call also carries .device/evdata and runs: VLLM_USE_FLASHINFER_SAMPLER=0 bash benchmarks/eval_gpu.sh ..."
