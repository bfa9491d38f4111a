#!/usr/bin/env bash
# Run pytest from the project venv. "No tests collected" (exit 5) counts as a failure.
set -uo pipefail
cd "$(dirname "$0")/.."

.venv/bin/python -m pytest "$@"
rc=$?
if [ "$rc" -eq 5 ]; then
    echo "pytest collected no tests: treating as a failure." >&2
    exit 1
fi
exit "$rc"
