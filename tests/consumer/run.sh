#!/usr/bin/env bash
# The package check (label runtime): `cmake --install` the build tree into a fresh prefix, build
# tests/consumer against it with find_package, and run it on a model (skipped: build only, when
# the second argument is "build-only", as in a cuda build without a GPU).
# Usage: run.sh BUILD_DIR MODEL_DIR [build-only]
set -euo pipefail
build="$1"
model="$2"
here="$(cd "$(dirname "$0")" && pwd)"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
test -f "$tmp/prefix/include/mvit/mvit.h"
cmake -S "$here" -B "$tmp/build" -DCMAKE_PREFIX_PATH="$tmp/prefix" >/dev/null
cmake --build "$tmp/build" >/dev/null
if [[ "${3:-}" == "build-only" ]]; then
  echo "consumer built against the installed package (not run: no GPU in this build)"
  exit 0
fi
"$tmp/build/consumer" "$model"
