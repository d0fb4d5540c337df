#!/usr/bin/env bash
# Installs the independent load generators used to cross-check the toolkit, pinned, into one bin directory outside
# the work tree: vegeta (Go, open loop) with `go install` and oha (Rust) with `cargo install --locked`.
# Prints that directory. Re-running is cheap: a tool already at its pinned version is kept.
# Usage: scripts/install-load-tools.sh [vegeta] [oha]   (both by default; oha compiles for 10-30 min on 2 cores)
set -euo pipefail
WANTED="${*:-vegeta oha}"
VEGETA_VERSION=v12.13.0
OHA_VERSION=1.16.0
TOOLS_DIR="${LLM_PROVIDER_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/llm-provider/tools}"
BIN="$TOOLS_DIR/bin"
mkdir -p "$BIN"
# `go install` leaves vegeta's -version empty, so a stamp file records which version is there.
if [[ " $WANTED " == *" vegeta "* ]] && { [ ! -x "$BIN/vegeta" ] || [ ! -e "$BIN/.vegeta-$VEGETA_VERSION" ]; }; then
  command -v go >/dev/null || { echo "go is required for vegeta (apt-get install -y golang)" >&2; exit 1; }
  GOBIN="$BIN" go install "github.com/tsenart/vegeta/v12@${VEGETA_VERSION}" >&2
  touch "$BIN/.vegeta-$VEGETA_VERSION"
fi
if [[ " $WANTED " == *" oha "* ]] && ! "$BIN/oha" --version 2>/dev/null | grep -q "$OHA_VERSION"; then
  command -v cargo >/dev/null || { echo "cargo is required for oha (apt-get install -y cargo)" >&2; exit 1; }
  cargo install --quiet --locked --root "$TOOLS_DIR" --version "$OHA_VERSION" oha >&2
fi
echo "$BIN"
