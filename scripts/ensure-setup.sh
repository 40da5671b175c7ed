#!/usr/bin/env bash
# Runs scripts/setup.sh when any tool it records is missing; otherwise returns at once.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
paths="$root/.tools/paths.json"
if [ -f "$paths" ] && node -e '
  const p = require(process.argv[1]);
  const fs = require("fs");
  for (const k of ["temporal", "tctl", "minio", "testServer", "testServerClasspath"]) if (!fs.existsSync(p[k])) process.exit(1);
  if (!fs.existsSync(p.pgBindir + "/postgres")) process.exit(1);
' "$paths"; then exit 0; fi
exec bash "$root/scripts/setup.sh"
