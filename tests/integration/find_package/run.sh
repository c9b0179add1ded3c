#!/usr/bin/env bash
# Installs the build tree into a temporary prefix, builds a user project with
# find_package(cnnkit CONFIG REQUIRED) against it, and runs it.
#   run.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1
src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" > /dev/null
cmake -S "$src" -B "$tmp/app" -G Ninja -DCMAKE_PREFIX_PATH="$tmp/prefix" -DCMAKE_BUILD_TYPE=Release > /dev/null
cmake --build "$tmp/app" > /dev/null
out=$("$tmp/app/app")
echo "app printed: $out"
[[ "$out" == "[2, 2]" ]]
