#!/usr/bin/env bash
# Installs the build tree into a temporary prefix, checks that the installed headers are the
# API only, builds a user project with find_package(cnnkit CONFIG REQUIRED) against it, and
# runs it.
#   run.sh BUILD_DIR SOURCE_DIR
# The installed include tree must hold no kernels/ folder, and no header may include oneDNN
# (<oneapi/...>, <dnnl...>), yaml-cpp or a private header ("<layer>/x.h" from src/), directly
# or through another installed header: the umbrella cnnkit/cnnkit.h, preprocessed against
# the prefix, must not reach them either. Every offending file is listed before the test
# fails; the user project is still built, so one run shows every problem.
set -uo pipefail
build=$1
src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
cmake --install "$build" --prefix "$tmp/prefix" > /dev/null || exit 1
inc=$tmp/prefix/include

if [[ -e $inc/cnnkit/kernels ]]; then
  echo "installed: include/cnnkit/kernels/ (kernels' headers are private: src/kernels/)"
  fail=1
fi
# Every installed header that includes them, directly or through other installed headers
# (with the chain), then the umbrella header as the compiler sees it.
python3 - "$inc" <<'PY' || fail=1
import os, re, sys
inc = sys.argv[1]
inc_re = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')
bad_re = re.compile(r'^(oneapi/|dnnl|yaml-cpp/)')
graph, direct = {}, {}
for d, _, files in os.walk(inc):
    for name in files:
        rel = os.path.relpath(os.path.join(d, name), inc)
        graph[rel], direct[rel] = [], []
        for n, line in enumerate(open(os.path.join(d, name), errors="replace"), 1):
            m = inc_re.match(line)
            if not m:
                continue
            q, path = m.groups()
            if bad_re.match(path) or (q == '"' and not path.startswith("cnnkit/") and "/" in path):
                direct[rel].append(f"{n}: #include {q}{path}{'>' if q == '<' else q}")
            elif path.startswith("cnnkit/"):
                graph[rel].append(path)
chain = {}
def reach(h, seen=()):
    if h in chain:
        return chain[h]
    chain[h] = None
    if direct.get(h):
        chain[h] = [h]
    else:
        for dep in graph.get(h, []):
            c = reach(dep)
            if c:
                chain[h] = [h] + c
                break
    return chain[h]
bad = sorted(h for h in graph if reach(h))
for h in bad:
    c = chain[h]
    why = "; ".join(direct[h]) if len(c) == 1 else "through " + " -> ".join(c[1:]) + ": " + direct[c[-1]][0]
    print(f"installed include/{h} includes oneDNN, yaml-cpp or a private header ({why})")
sys.exit(1 if bad else 0)
PY
cxx=$(sed -n 's/^CMAKE_CXX_COMPILER:[A-Z]*=//p' "$build/CMakeCache.txt")
if ! deps=$("${cxx:-c++}" -std=c++20 -fopenmp -I"$inc" -M -x c++ - <<< '#include <cnnkit/cnnkit.h>' 2>&1); then
  echo "cnnkit/cnnkit.h does not preprocess against the installed headers alone:"
  echo "$deps"
  fail=1
else
  reached=$(tr ' \\' '\n\n' <<< "$deps" | grep -E '/(oneapi|yaml-cpp)/|/dnnl[^/]*\.h' |
            sed -E 's#^(.*/(oneapi|yaml-cpp)/).*#\1#' | sort | uniq -c)
  if [[ -n $reached ]]; then
    echo "cnnkit/cnnkit.h, preprocessed against the prefix, reaches (headers, folder):"
    echo "$reached"
    fail=1
  fi
fi

cmake -S "$src" -B "$tmp/app" -G Ninja -DCMAKE_PREFIX_PATH="$tmp/prefix" -DCMAKE_BUILD_TYPE=Release > /dev/null &&
  cmake --build "$tmp/app" > /dev/null || exit 1
out=$("$tmp/app/app")
echo "app printed: $out"
[[ "$out" == "[2, 2]" ]] || fail=1
exit $fail
