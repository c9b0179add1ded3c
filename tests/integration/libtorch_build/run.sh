#!/usr/bin/env bash
# Builds the LibTorch-compat programs against LibTorch 1.13 itself (Debian's libtorch-dev) and
# runs them: tests/integration/libtorch_compat_test.cpp with `cnnkit::` replaced by `torch::`
# and <cnnkit/cnnkit.h> by <torch/torch.h>, the reverse of a port. Its expectations are
# PyTorch's numbers, so passing both ways shows the programs are real LibTorch code and that
# cnnkit computes what LibTorch does. Tests that use cnnkit-only API sit under
# `#ifndef CNNKIT_AS_LIBTORCH` and are left out of this build.
#   run.sh SOURCE_DIR
# Exits 77 (ctest: skipped) when libtorch-dev is not installed: it is an oracle, installed by
# `CNNKIT_WITH_TORCH=1 scripts/install-deps`, never needed to build or test cnnkit.
set -uo pipefail
src=$1
header=/usr/include/torch/csrc/api/include/torch/torch.h
if [[ ! -f $header ]]; then
  echo "libtorch-dev is not installed ($header): skipped (CNNKIT_WITH_TORCH=1 scripts/install-deps installs it)"
  exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sed -e 's/cnnkit::/torch::/g' -e 's#<cnnkit/cnnkit.h>#<torch/torch.h>#' \
  "$src/tests/integration/libtorch_compat_test.cpp" > "$tmp/libtorch_compat_test.cpp"
if grep -n 'cnnkit::\|cnnkit/\|CNNKIT_[A-Z]*(' "$tmp/libtorch_compat_test.cpp" | grep -v '^[0-9]*: *//'; then
  echo "the program still uses cnnkit API outside comments after the namespace swap (lines above)"
  exit 1
fi
# -O1: the point is that it compiles and computes the same numbers, not its speed.
if ! g++ -std=c++17 -O1 -w -DCNNKIT_AS_LIBTORCH -D_GLIBCXX_USE_CXX11_ABI=1 \
    -I/usr/include/torch/csrc/api/include "$tmp/libtorch_compat_test.cpp" -o "$tmp/compat_libtorch" \
    -ltorch -ltorch_cpu -lc10 -lgtest -lgtest_main -pthread; then
  echo "the compat programs do not compile against LibTorch 1.13 (errors above)"
  exit 1
fi
"$tmp/compat_libtorch"
