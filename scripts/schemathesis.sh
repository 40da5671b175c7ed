#!/usr/bin/env bash
# Measures the API against its own contract: schemathesis (from PyPI, in .tools/venv, installed by
# scripts/setup.sh) runs every check (`--checks all`) over the OpenAPI document the API serves.
#
#   scripts/schemathesis.sh <base-url> <api-key> [more schemathesis options]
#
# The key should hold every scope, so that a refusal means the request was wrong, not the key.
# ST_MAX_EXAMPLES bounds the generated cases per operation (default 10), ST_SEED fixes the run (default 1;
# `random` draws a new one), ST_CONFIG names the settings file (default scripts/schemathesis.toml), ST_WORKERS
# the concurrency (default 1: under several workers hypothesis 6.170 can fail with "AST constructor recursion
# depth mismatch"). Exits with schemathesis' code: 0 when nothing failed. test/api/schemathesis.test.ts runs it against the real API as part of `npm test`.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
st="$root/.tools/venv/bin/schemathesis"
if [ ! -x "$st" ]; then
  echo "schemathesis is not installed at $st: run 'npm run setup' (it creates .tools/venv with python3 -m venv and pip-installs the pinned schemathesis)" >&2
  exit 2
fi
[ $# -ge 2 ] || { echo "usage: scripts/schemathesis.sh <base-url> <api-key> [schemathesis options]" >&2; exit 2; }
url=${1%/}
key=$2
shift 2
seed=()
[ "${ST_SEED:-1}" = random ] || seed=(--seed "${ST_SEED:-1}")
# Run from a scratch folder: schemathesis writes nothing into the work tree.
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
cd "$scratch"
"$st" --config-file "${ST_CONFIG:-$root/scripts/schemathesis.toml}" run "$url/openapi.json" \
  --url "$url" \
  --checks all \
  --header "Authorization: Bearer $key" \
  --max-examples "${ST_MAX_EXAMPLES:-10}" \
  --workers "${ST_WORKERS:-1}" \
  --generation-database none \
  --request-timeout 30 \
  --no-color \
  "${seed[@]}" \
  "$@"
