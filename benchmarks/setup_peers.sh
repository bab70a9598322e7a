#!/usr/bin/env bash
# Peers for the benchmarks, each in its own venv (their pins clash with moru's). Idempotent.
#   .venv-bench      datatrove 0.10.1 (+ spacy for its English word tokenizer, kiwipiepy < 0.22 for its Korean
#                    one (the pin of datatrove's "multilingual" extra), regex for its text utilities, pyarrow for
#                    its Parquet reader, tokenizers for its imports, xxhash < 4 as its "processing" extra pins:
#                    xxhash 4 refuses str, which its n-gram decontamination hashes)
#   .venv-textdedup  text-dedup 0.3.1 (pyspark < 4, numpy < 2; installed without its unused extras)
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
echo "peers ready: .venv-bench (datatrove), .venv-textdedup (text-dedup 0.3.1)"
