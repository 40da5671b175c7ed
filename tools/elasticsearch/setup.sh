#!/usr/bin/env bash
# Assembles runnable Elasticsearch homes from Maven Central artifacts only (no tarball download):
#   lib/      the server jar and its dependencies
#   modules/  transport-netty4 (HTTP) and, where Maven Central has it, reindex (_delete_by_query)
#   launcher/ a small Java main (launcher/es<major>/) that builds a Node from that home
#
# Two homes, because Maven Central does not carry every module for every line:
#   7.17.29  server + transport-netty4-client + reindex-client: the full delete-by-query/tasks API.
#   8.19.21  server + transport-netty4: a real 8.x node; its reindex module is NOT published on Maven
#            Central (org.elasticsearch.plugin:reindex and :reindex-client stop at 7.17), so
#            _delete_by_query answers "no handler found" there.
# Idempotent. Progress goes to stderr; stdout is the folder holding the homes (scripts/setup.sh records it).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out="$root/.tools/elasticsearch"
ES7_VERSION=7.17.29
ES8_VERSION=8.19.21
log() { printf '[elasticsearch] %s\n' "$*" >&2; }
command -v mvn >/dev/null || { log "Maven is required"; exit 1; }
command -v javac >/dev/null || { log "a JDK (javac) is required"; exit 1; }

# fetch <dest> <groupId> <artifactId> <version> [comma-separated artifactIds to leave out]
fetch() {
  mvn -q -B -f "$here/pom.xml" dependency:copy-dependencies \
    -Des.group="$2" -Des.artifact="$3" -Des.version="$4" \
    -DoutputDirectory="$1" -DincludeScope=runtime -Dmdep.stripVersion=true \
    ${5:+-DexcludeArtifactIds="$5"} >&2
}

# module <home> <name> <groupId> <artifactId> <classname> <javaVersion>
module() {
  local home=$1 name=$2 dir="$1/modules/$2" version
  version=$(cat "$home/VERSION")
  # Jars already on the server's path must not be loaded twice (Elasticsearch's jar-hell check).
  local have
  have=$(cd "$home/lib" && ls *.jar | sed 's/\.jar$//' | paste -sd, -)
  mkdir -p "$dir"
  fetch "$dir" "$3" "$4" "$version" "$have"
  cat > "$dir/plugin-descriptor.properties" <<PROPS
description=$name module assembled from $3:$4:$version
version=$version
name=$name
classname=$5
java.version=$6
elasticsearch.version=$version
extended.plugins=
has.native.controller=false
PROPS
}

common_config() {
  local home=$1
  mkdir -p "$home/config"
  : > "$home/config/elasticsearch.yml"
  cat > "$home/config/log4j2.properties" <<'PROPS'
status = error
appender.console.type = Console
appender.console.name = console
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d{ISO8601}][%-5p][%-25c{1.}] [%node_name]%marker %m%n
rootLogger.level = warn
rootLogger.appenderRef.console.ref = console
PROPS
}

assemble_es7() {
  local home="$out/$ES7_VERSION"
  [ -f "$home/.complete" ] && return 0
  log "assembling Elasticsearch $ES7_VERSION from Maven Central"
  rm -rf "$home" && mkdir -p "$home/lib" "$home/modules" "$home/launcher"
  echo "$ES7_VERSION" > "$home/VERSION"
  fetch "$home/lib" org.elasticsearch elasticsearch "$ES7_VERSION"
  module "$home" transport-netty4 org.elasticsearch.plugin transport-netty4-client org.elasticsearch.transport.Netty4Plugin 1.8
  module "$home" reindex org.elasticsearch.plugin reindex-client org.elasticsearch.reindex.ReindexPlugin 1.8
  common_config "$home"
  javac -nowarn -d "$home/launcher" -cp "$home/lib/*" "$here/launcher/es7/launcher/EmbeddedNode.java" >&2
  echo 7 > "$home/MAJOR"
  touch "$home/.complete"
}

assemble_es8() {
  local home="$out/$ES8_VERSION"
  [ -f "$home/.complete" ] && return 0
  log "assembling Elasticsearch $ES8_VERSION from Maven Central"
  rm -rf "$home" && mkdir -p "$home/lib" "$home/modules" "$home/launcher"
  echo "$ES8_VERSION" > "$home/VERSION"
  fetch "$home/lib" org.elasticsearch elasticsearch "$ES8_VERSION"
  module "$home" transport-netty4 org.elasticsearch.plugin transport-netty4 org.elasticsearch.transport.netty4.Netty4Plugin 17
  common_config "$home"
  javac -nowarn -d "$home/launcher" -cp "$home/lib/*" "$here/launcher/es8/launcher/EmbeddedNode.java" >&2
  echo 8 > "$home/MAJOR"
  touch "$home/.complete"
}

mkdir -p "$out"
assemble_es7
assemble_es8
printf '{ "7": "%s", "8": "%s" }\n' "$out/$ES7_VERSION" "$out/$ES8_VERSION" > "$out/homes.json"
echo "$out"
