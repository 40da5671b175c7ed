#!/usr/bin/env bash
# Assembles a runnable Apache Kafka home from Maven Central jars only (no tarball download):
#   lib/     kafka_2.13 (the broker: kafka.Kafka, and kafka.tools.StorageTool to format its storage),
#            its runtime dependencies, and log4j-slf4j-impl (see pom.xml)
#   config/  log4j2.properties: warnings and errors, plus the line saying the broker started
# One JVM runs both KRaft roles (broker and controller); src/dev/kafka.ts writes server.properties per data dir.
# Idempotent: a second run only checks the .complete marker. Jars are cached in ~/.m2.
# Progress goes to stderr; stdout is the home (scripts/setup.sh records it as kafkaHome in .tools/paths.json).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
KAFKA_VERSION=4.1.1
home="$root/.tools/kafka/$KAFKA_VERSION"
log() { printf '[kafka] %s\n' "$*" >&2; }
command -v mvn >/dev/null || { log "Maven is required"; exit 1; }
command -v java >/dev/null || { log "Java 17 or later is required"; exit 1; }

if [ ! -f "$home/.complete" ]; then
  log "assembling Apache Kafka $KAFKA_VERSION from Maven Central"
  rm -rf "$home" && mkdir -p "$home/lib" "$home/config"
  mvn -q -B -f "$here/pom.xml" dependency:copy-dependencies \
    -Dkafka.version="$KAFKA_VERSION" -DoutputDirectory="$home/lib" -DincludeScope=runtime >&2
  [ -f "$home/lib/kafka_2.13-$KAFKA_VERSION.jar" ] || { log "kafka_2.13-$KAFKA_VERSION.jar is missing from $home/lib"; exit 1; }
  # The broker's own log lines: warnings and errors, and the INFO line of KafkaRaftServer saying it started,
  # so a log file names the moment the broker was up. The request and state-change loggers stay quiet.
  cat > "$home/config/log4j2.properties" <<'PROPS'
status = error
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_OUT
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d{ISO8601}] %-5p %m (%c{1})%n
rootLogger.level = warn
rootLogger.appenderRef.console.ref = console
logger.raftserver.name = kafka.server.KafkaRaftServer
logger.raftserver.level = info
logger.statechange.name = state.change.logger
logger.statechange.level = error
PROPS
  echo "$KAFKA_VERSION" > "$home/VERSION"
  touch "$home/.complete"
fi
log "kafka $KAFKA_VERSION: $(ls "$home/lib" | wc -l) jars in $home/lib"
echo "$home"
