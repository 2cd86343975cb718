#!/usr/bin/env bash
# Runs the whole test suite in the project virtualenv. pytest's exit code 5 ("no tests collected")
# is a failure here: a suite that runs nothing must not pass silently.
set -uo pipefail
cd "$(dirname "$0")/.."
.venv/bin/python -m pytest -q "$@"
code=$?
if [ "$code" -eq 5 ]; then
  echo "test.sh: pytest collected no tests: that is a failure" >&2
  exit 1
fi
exit "$code"
