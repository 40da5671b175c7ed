#!/usr/bin/env bash
# Installs every server and CLI the engine and its tests run for real, from package registries only:
#   temporal (dev server + Web UI) and tctl  -> go install (binaries in $(go env GOPATH)/bin)
#   minio (S3)                                -> go install
#   mailpit (SMTP server + web inbox)         -> go install
#   Temporal server + SQL schema tool        -> go install go.temporal.io/server (schemas from the module cache)
#   Java time-skipping test server            -> Maven Central (jars stay in ~/.m2)
#   Elasticsearch 7.17 and 8.19 nodes         -> Maven Central jars (see tools/elasticsearch/setup.sh)
#   Apache Kafka 4.1 broker (KRaft)           -> Maven Central jars (see tools/kafka/setup.sh)
#   PostgreSQL server binaries                -> Debian's postgresql package when missing
#   schemathesis (API contract checks)        -> PyPI, into the virtualenv .tools/venv
#   chromium (Web UI browser test)            -> Debian's chromium package when missing
# Idempotent: a second run only checks what is there. Writes .tools/paths.json for the scripts and tests.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tools="$root/.tools"
mkdir -p "$tools"
log() { printf '[setup] %s\n' "$*"; }
die() { printf '[setup] ERROR: %s\n' "$*" >&2; exit 1; }

command -v go >/dev/null || die "Go is required (go install builds temporal, tctl and minio)"
command -v java >/dev/null || die "Java 17 is required (time-skipping test server, Elasticsearch)"
command -v mvn >/dev/null || die "Maven is required (fetches the Java test server from Maven Central)"
gobin=$(go env GOBIN); [ -n "$gobin" ] || gobin="$(go env GOPATH)/bin"

# Pinned versions. temporal CLI tags after v1.5.1 carry a replace directive that breaks go install;
# the module proxy only serves tctl v1.18.0 and a pseudo-version of minio.
TEMPORAL_CLI_VERSION=v1.5.1
MINIO_VERSION=v0.0.0-20260212201848-7aac2a2c5b7c
MAILPIT_VERSION=v1.33.1

# go install stamps the CLI as 0.0.0-DEV; v1.5.1 is recognised by the server version it embeds.
TEMPORAL_SERVER_VERSION="Server 1.29.1"
if [ ! -x "$gobin/temporal" ] || ! "$gobin/temporal" --version 2>/dev/null | grep -q "$TEMPORAL_SERVER_VERSION"; then
  log "building temporal CLI $TEMPORAL_CLI_VERSION (first time takes a few minutes)"
  go install "github.com/temporalio/cli/cmd/temporal@$TEMPORAL_CLI_VERSION"
fi
log "temporal: $("$gobin/temporal" --version | head -n1)"

if [ ! -x "$gobin/tctl" ]; then
  log "building tctl (tools/tctl pins v1.18.0)"
  (cd "$root/tools/tctl" && GOFLAGS=-mod=mod go install github.com/temporalio/tctl/cmd/tctl)
fi
log "tctl: $("$gobin/tctl" --version 2>/dev/null | head -n1)"

if [ ! -x "$gobin/minio" ]; then
  log "building minio $MINIO_VERSION (first time takes several minutes)"
  go install "github.com/minio/minio@$MINIO_VERSION"
fi
log "minio: $("$gobin/minio" --version 2>/dev/null | head -n1)"

# mailpit: the SMTP server (with a web inbox and an HTTP API) notifications go to in npm start and the tests.
# go install stamps it "dev" (and `mailpit version` asks GitHub for updates): the module version is read from the binary.
if [ ! -x "$gobin/mailpit" ] || ! go version -m "$gobin/mailpit" 2>/dev/null | grep -qE "^\s+mod\s+github.com/axllent/mailpit\s+$MAILPIT_VERSION\s"; then
  log "building mailpit $MAILPIT_VERSION"
  go install "github.com/axllent/mailpit@$MAILPIT_VERSION"
fi
log "mailpit: $MAILPIT_VERSION"

# Temporal server with PostgreSQL persistence (the layout a deployment grows into from the dev server): the server
# binary, its SQL schema tool (go install names them `server` and `sql`), and the versioned schema folders, which
# ship inside the module and so sit in the Go module cache (`go mod download` prints where; it fetches nothing more).
TEMPORAL_SERVER_MODULE_VERSION=v1.29.1
for pkg in cmd/server cmd/tools/sql; do
  bin="$gobin/$(basename "$pkg")"
  if [ ! -x "$bin" ] || ! go version -m "$bin" 2>/dev/null | grep -qE "^\s+mod\s+go.temporal.io/server\s+$TEMPORAL_SERVER_MODULE_VERSION\s"; then
    log "building go.temporal.io/server/$pkg $TEMPORAL_SERVER_MODULE_VERSION (the server takes a few minutes)"
    go install "go.temporal.io/server/$pkg@$TEMPORAL_SERVER_MODULE_VERSION"
  fi
done
temporal_module_dir=$(cd "$tools" && go mod download -json "go.temporal.io/server@$TEMPORAL_SERVER_MODULE_VERSION" | sed -n 's/^\s*"Dir": "\(.*\)",\?$/\1/p')
temporal_schema_dir="$temporal_module_dir/schema/postgresql/v12"
[ -d "$temporal_schema_dir/temporal/versioned" ] && [ -d "$temporal_schema_dir/visibility/versioned" ] \
  || die "Temporal's PostgreSQL schema not found under $temporal_schema_dir"
log "temporal server: $TEMPORAL_SERVER_MODULE_VERSION (schema tool $("$gobin/sql" --version 2>/dev/null | awk '{print $NF}'), schemas in $temporal_schema_dir)"

# Java time-skipping server: Maven resolves the jars into ~/.m2 and writes the classpath.
cp_file="$tools/test-server.classpath"
if [ ! -s "$cp_file" ] || ! head -c 4096 "$cp_file" | tr ':' '\n' | head -n1 | xargs test -f; then
  log "resolving io.temporal:temporal-test-server from Maven Central"
  mvn -q -B -f "$root/tools/test-server/pom.xml" dependency:build-classpath -Dmdep.outputFile="$cp_file" >/dev/null
fi
log "test server classpath: $(tr ':' '\n' < "$cp_file" | wc -l) jars"

# Elasticsearch: homes assembled from Maven Central jars; the script prints the folder holding them.
es_home=""
if [ -x "$root/tools/elasticsearch/setup.sh" ]; then
  es_home=$("$root/tools/elasticsearch/setup.sh")
  log "elasticsearch: $es_home"
fi

# Kafka: a broker home assembled from Maven Central jars; the script prints the home.
kafka_home=$(bash "$root/tools/kafka/setup.sh")
log "kafka: $kafka_home"

# PostgreSQL server binaries.
find_pg_bindir() {
  local d
  if command -v pg_config >/dev/null && [ -x "$(pg_config --bindir)/postgres" ]; then pg_config --bindir; return; fi
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    [ -x "$d/postgres" ] && { echo "$d"; return; }
  done
}
pg_bindir=$(find_pg_bindir || true)
if [ -z "$pg_bindir" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    log "installing Debian's postgresql"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    pg_bindir=$(find_pg_bindir || true)
  fi
  [ -n "$pg_bindir" ] || die "PostgreSQL server binaries not found; install postgresql (e.g. apt-get install postgresql)"
fi
log "postgres: $("$pg_bindir/postgres" --version)"
if [ "$(id -u)" = 0 ] && ! id postgres >/dev/null 2>&1; then
  useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
fi

# Chromium (Debian's package): the browser test drives the Temporal Web UI headless with playwright-core, which
# has no browser of its own and downloads none (the test gives it executablePath /usr/bin/chromium).
if [ ! -x /usr/bin/chromium ]; then
  [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null || die "Chromium not found at /usr/bin/chromium; install Debian's chromium package (apt-get install chromium)"
  log "installing Debian's chromium (headless browser for the Web UI test)"
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
log "chromium: $(/usr/bin/chromium --version 2>/dev/null | head -n1)"

# schemathesis (PyPI), in a virtualenv of its own: test/api/schemathesis.test.ts measures the API's contract.
SCHEMATHESIS_VERSION=4.32.5
venv="$tools/venv"
if ! "$venv/bin/schemathesis" --version 2>/dev/null | grep -qF "$SCHEMATHESIS_VERSION"; then
  command -v python3 >/dev/null || die "Python 3 is required (schemathesis comes from PyPI)"
  if ! python3 -m venv "$venv" 2>/dev/null; then
    [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null || die "python3 -m venv failed; install Python's venv module (Debian: python3-venv)"
    log "installing Debian's python3-venv"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
    python3 -m venv "$venv"
  fi
  log "installing schemathesis $SCHEMATHESIS_VERSION from PyPI into .tools/venv"
  "$venv/bin/pip" install -q --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi
log "$("$venv/bin/schemathesis" --version)"

cat > "$tools/paths.json" <<JSON
{
  "temporal": "$gobin/temporal",
  "tctl": "$gobin/tctl",
  "minio": "$gobin/minio",
  "mailpit": "$gobin/mailpit",
  "temporalServer": "$gobin/server",
  "temporalSqlTool": "$gobin/sql",
  "temporalSchemaDir": "$temporal_schema_dir",
  "testServer": "$root/scripts/temporal-test-server",
  "testServerClasspath": "$cp_file",
  "pgBindir": "$pg_bindir",
  "elasticsearchHome": "$es_home",
  "kafkaHome": "$kafka_home",
  "schemathesis": "$venv/bin/schemathesis",
  "chromium": "/usr/bin/chromium"
}
JSON
log "done; tool paths in .tools/paths.json"
