#!/usr/bin/env bash
# The Python wheels the lent GPU image lacks for the post-training benchmarks (benchmarks/align_data.py,
# benchmarks/align_throughput.py and moru's megatron-core SFT / DPO), downloaded HERE into the git-ignored
# folder .whl/ (the GPU machine has no internet; the wheels travel with the working tree when a run carries .whl).
#
#     bash benchmarks/gpu_wheels.sh            # needs pip and internet here; prints each wheel and the total
#
# The image (Python 3.12, torch 2.11 cu130, transformers 5.17, accelerate 1.15, huggingface_hub 1.33, pyarrow,
# pandas, numpy, fsspec, xxhash, tqdm, filelock, packaging, pyyaml, jinja2, psutil: the package list in the
# device notes, KINDS.md) lacks:
#   trl 1.16.0                 the peer
#   datasets 5.2.0             TRL's data (>= 4.7 needed; 5.2 is what this repo's venv tests TRL 1.16 with; its
#                              huggingface-hub>=1.31,<3 fits the image's 1.33)
#   dill 0.4.1, multiprocess 0.70.19        datasets' needs the image lacks (dill<0.4.2, multiprocess<0.70.20)
#   megatron-core 0.16.1       moru's trainer and the IndexedDataset reader/writer (a cp312 manylinux wheel with
#                              its compiled dataset helpers; needs torch, numpy, packaging>=24.2: all in the image)
#   pydantic 2.14.4 + pydantic-core 2.50.5, annotated-types 0.8.0, typing-inspection 0.4.5, typing-extensions
#   4.16.0                     moru's configs and shapes (megatron_train.model_configs, spark_jobs.emit.shards)
#                              import pydantic; pydantic 2.14 wants typing-extensions>=4.16
# Not carried: transformer-engine (no wheel for this torch; moru's trainer uses megatron-core's local spec
# there), flash-attn (no wheel for torch 2.11 cu130; TRL runs with SDPA), apex.
#
# On the GPU machine, a run that names `.whl` in carry starts with (the last command prints the versions that
# the wheels' requirements depend on — datasets 5.2 asks pyarrow>=24, fsspec<=2026.9.0, megatron-core
# packaging>=24.2):
#   python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site \
#     .whl/*.whl && export PYTHONPATH=/tmp/site || exit; python3 -c "import importlib.metadata as m; \
#     print({p: m.version(p) for p in ('torch','transformers','accelerate','huggingface_hub','pyarrow','fsspec', \
#     'packaging','trl','datasets','megatron-core','pydantic')})"
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-.venv/bin/python}
WHEELS=(
  trl==1.16.0
  datasets==5.2.0
  dill==0.4.1
  multiprocess==0.70.19
  megatron-core==0.16.1
  pydantic==2.14.4
  pydantic-core==2.50.5
  annotated-types==0.8.0
  typing-inspection==0.4.5
  typing-extensions==4.16.0
)
# distributions the image has (KINDS.md), for the requirement check below
IMAGE="accelerate filelock fsspec huggingface-hub jinja2 numpy packaging pandas psutil pyarrow pyyaml torch tqdm
transformers xxhash"
LIMIT_MB=20

exclude=$(git rev-parse --git-path info/exclude)
mkdir -p "$(dirname "$exclude")" .whl
grep -qxF '/.whl/' "$exclude" 2>/dev/null || echo '/.whl/' >>"$exclude"

"$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_24_x86_64 \
  --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform manylinux1_x86_64 \
  -d .whl "${WHEELS[@]}"

"$PY" - "$LIMIT_MB" "$IMAGE" "${WHEELS[@]}" <<'EOF'
import re
import sys
import zipfile
from pathlib import Path

limit_mb, image, wanted = float(sys.argv[1]), set(sys.argv[2].split()), sys.argv[3:]


def norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


want = {norm(w.split("==")[0]): w.split("==")[1] for w in wanted}
keep, extra, problems = [], [], []
for f in sorted(Path(".whl").glob("*.whl")):
    name, version = f.name.split("-")[:2]
    if want.get(norm(name)) == version:
        keep.append(f)
    else:
        extra.append(f)
for f in extra:  # another version of one of ours would stop the install (two versions of one package)
    if norm(f.name.split("-")[0]) in want:
        f.unlink()
        print(f"removed {f.name}: not the version this script pins")
    else:
        problems.append(f"{f.name} is in .whl/ but not in this script's list")
have = {norm(f.name.split("-")[0]) for f in keep}
for name in want:
    if name not in have:
        problems.append(f"{name}: no wheel downloaded")
for f in keep:
    meta = next(n for n in zipfile.ZipFile(f).namelist() if n.endswith(".dist-info/METADATA"))
    for line in zipfile.ZipFile(f).read(meta).decode().splitlines():
        if line.startswith("Requires-Dist:") and "extra ==" not in line:
            req = norm(re.split(r"[ ;<>=!~\[(]", line.split(":", 1)[1].strip())[0])
            if req not in have and req not in image:
                problems.append(f"{f.name} requires {req}, which is neither carried nor in the image")
total = 0
for f in keep:
    size = f.stat().st_size
    total += size
    print(f"{size / 2**20:7.2f} MB  {f.name}")
print(f"{total / 2**20:7.2f} MB  in all ({len(keep)} wheels; limit {limit_mb:.0f} MB)")
if total > limit_mb * 2**20:
    problems.append(f"{total / 2**20:.1f} MB is over {limit_mb:.0f} MB")
for p in problems:
    print(f"PROBLEM: {p}")
sys.exit(1 if problems else 0)
EOF
