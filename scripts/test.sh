#!/usr/bin/env bash
# The whole test suite, as CI runs it: lint, then every test against a fresh deployment.
# Starts the stack when it is down and stops it again at the end, even when tests fail;
# a stack that was already up is left running. Extra arguments go to pytest.
set -uo pipefail
cd "$(dirname "$0")/.."

stackctl() { python3 stack/stackctl.py "$@"; }
began=$(date +%s)
stackctl tools || exit 1
PY=.venv/tools/bin/python

started=0
cleanup() { if [ "$started" = 1 ]; then stackctl down; fi; }
trap cleanup EXIT
if ! stackctl status --quiet; then
  started=1
  stackctl up || exit 1
fi

echo "test: lint"
"$PY" -m ruff check . || exit 1
echo "test: deploy"
"$PY" scripts/deploy.py apply || exit 1

set -a
eval "$(stackctl env)"
set +a
"$PY" -m pytest "$@"
rc=$?
if [ "$rc" -eq 5 ]; then
  echo "test: pytest collected no tests, which is a failure here" >&2
  rc=1
fi
echo "test: finished in $(( $(date +%s) - began )) s with exit code $rc"
exit "$rc"
