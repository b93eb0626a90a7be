#!/usr/bin/env bash
# CMAKE_CUDA_COMPILER_LAUNCHER for the cuda build: runs the nvcc command line given after <logdir>,
# keeps its stderr (ptxas -v resource usage) in <logdir>/<object>.log, and passes on everything
# except ptxas's informational lines, so the build output shows only real warnings and errors.
set -u
logdir=$1
shift
out=unknown
prev=
for arg in "$@"; do
  if [ "$prev" = "-o" ]; then out=$arg; fi
  prev=$arg
done
mkdir -p "$logdir"
log="$logdir/$(printf '%s' "$out" | tr '/' '_').log"
"$@" 2>"$log.tmp"
rc=$?
grep -v -e '^ptxas info' -e '^    [0-9]* bytes stack frame' "$log.tmp" >&2
mv "$log.tmp" "$log"
exit $rc
