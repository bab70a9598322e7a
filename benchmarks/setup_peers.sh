#!/usr/bin/env bash
# Peers for the benchmarks, each in its own venv (their pins clash with moru's). Idempotent.
#   .venv-bench      datatrove 0.10.1 (+ spacy for its English word tokenizer, kiwipiepy < 0.22 for its Korean
#                    one (the pin of datatrove's "multilingual" extra), regex for its text utilities, pyarrow for
#                    its Parquet reader, tokenizers for its imports, xxhash < 4 as its "processing" extra pins:
#                    xxhash 4 refuses str, which its n-gram decontamination hashes)
#   .venv-textdedup  text-dedup 0.3.1 (pyspark < 4, numpy < 2; installed without its unused extras)
#   .venv-decon      allenai's decon (PyPI `decontaminate` 0.3.0.post4, its Python bindings): its wheels are for
#                    Python >= 3.12 only, so its PyO3 extension is built here from the sdist (decon's Rust source,
#                    crates from crates.io, cargo + maturin; ~10 min on 2 cores) for this Python, whose version
#                    its code does not depend on (requires-python is ignored for this one package)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
if [ ! -x .venv-bench/bin/python ]; then
  "$PY" -m venv .venv-bench
fi
.venv-bench/bin/pip install -q "datatrove==0.10.1" orjson fasteners fasttext-numpy2-wheel spacy "kiwipiepy<0.22" regex pyarrow tokenizers "xxhash<4"
if [ ! -x .venv-textdedup/bin/python ]; then
  "$PY" -m venv .venv-textdedup
fi
.venv-textdedup/bin/pip install -q "pyspark==3.5.7" "numpy<2" "scipy<1.14" "rich<13" pyarrow pandas
.venv-textdedup/bin/pip install -q --no-deps "text-dedup==0.3.1"
if [ ! -x .venv-decon/bin/python ]; then
  "$PY" -m venv .venv-decon
fi
if ! .venv-decon/bin/python -c "import decon" 2>/dev/null; then
  command -v cargo >/dev/null || { echo "decon is built with cargo (Rust): install a Rust toolchain first" >&2; exit 1; }
  .venv-decon/bin/pip install -q --ignore-requires-python --no-binary decontaminate "decontaminate==0.3.0.post4"
fi
echo "peers ready: .venv-bench (datatrove), .venv-textdedup (text-dedup 0.3.1), .venv-decon (decon)"
