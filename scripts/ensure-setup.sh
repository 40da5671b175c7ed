#!/usr/bin/env bash
# Runs scripts/setup.sh when any tool it records is missing; otherwise returns at once.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
paths="$root/.tools/paths.json"
if [ -f "$paths" ] && node -e '
  const p = require(process.argv[1]);
  const fs = require("fs");
  for (const k of ["temporal", "tctl", "minio", "mailpit", "testServer", "testServerClasspath", "schemathesis", "chromium", "temporalServer", "temporalSqlTool", "temporalSchemaDir"]) if (!fs.existsSync(p[k])) process.exit(1);
  if (!fs.existsSync(p.pgBindir + "/postgres")) process.exit(1);
  // Elasticsearch homes (tools/elasticsearch/setup.sh): every line listed in homes.json must be complete.
  const homes = p.elasticsearchHome && p.elasticsearchHome + "/homes.json";
  if (!homes || !fs.existsSync(homes)) process.exit(1);
  for (const h of Object.values(require(homes))) if (!fs.existsSync(h + "/.complete")) process.exit(1);
  // Kafka home (tools/kafka/setup.sh).
  if (!p.kafkaHome || !fs.existsSync(p.kafkaHome + "/.complete")) process.exit(1);
' "$paths"; then exit 0; fi
exec bash "$root/scripts/setup.sh"
