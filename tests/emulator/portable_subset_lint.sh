#!/usr/bin/env bash
# Fails if kernel code outside kernels/common and emulator/ uses what the portable subset forbids
# (shared/DESIGN.md section 6):
#  - <<<>>> launches, raw __shared__, inline PTX, __CUDA_ARCH__;
#  - __constant__, __managed__ and __device__ variables: the emulated build turns them into plain
#    host globals (host code could write them directly, and there is no cudaMemcpyToSymbol), so a
#    kernel that relies on one would pass here and behave differently on a GPU; pass the data
#    through a kernel argument instead. __device__ functions are fine;
#  - raw __launch_bounds__: the emulated build cannot see it, so a launch bigger than the bound
#    would run here and fail on a GPU; MVIT_LAUNCH_BOUNDS(n[, min_blocks]) (kernels/common/
#    launch.cuh) is enforced in both builds, and takes integer literals only (the emulated build
#    needs a constant it can put in a GCC attribute: Note [launch bounds encoding] in
#    emulator/src/launch_checks.cpp).
# The files under tests/emulator/must_not_compile/ break these rules on purpose, and so do the
# lint's own cases under tests/emulator/lint_cases/ (each a root this script is run on).
cd "$1" || exit 2
# Lines of kernel code matching $1, as path:line:code, comments removed (a rule's name in a comment
# is no violation).
files() {
  grep -rnE "$1" --include='*.cu' --include='*.cuh' kernels tests tools runtime 2>/dev/null |
    grep -v -e '^kernels/common/' -e '^tests/emulator/must_not_compile/' \
      -e '^tests/emulator/lint_cases/' |
    sed -E 's#//.*$##' | grep -vE '^[^:]*:[0-9]+:\s*\*' | grep -E "$1"
}
hits=$(files '<<<|^\s*(extern\s+)?__shared__|\basm\s*(volatile)?\s*\(|__CUDA_ARCH__')
# A __device__ declaration is a variable when a ';', '=', '[' or '{' comes before any '('.
globals=$(files '\b__constant__\b|\b__managed__\b|\b__device__\b' |
          grep -E '\b(__constant__|__managed__)\b|\b__device__\b[^(]*[;=[{]')
bounds=$(files '\b__launch_bounds__\b|\bMVIT_LAUNCH_BOUNDS\b' |
         grep -vE 'MVIT_LAUNCH_BOUNDS\(\s*[0-9]+\s*(,\s*[0-9]+\s*)?\)' |
         grep -E '\b__launch_bounds__\b|\bMVIT_LAUNCH_BOUNDS\b')
status=0
if [ -n "$hits" ]; then
  echo "portable subset violations (<<<>>>, raw __shared__, inline asm, __CUDA_ARCH__):"
  echo "$hits"
  status=1
fi
if [ -n "$globals" ]; then
  echo "portable subset violations (__constant__ / __device__ / __managed__ variables are not modelled; pass a kernel argument):"
  echo "$globals"
  status=1
fi
if [ -n "$bounds" ]; then
  echo "portable subset violations (raw __launch_bounds__, or MVIT_LAUNCH_BOUNDS without integer literals):"
  echo "$bounds"
  status=1
fi
if [ "$status" -eq 0 ]; then
  echo "no <<<>>>, raw __shared__, inline asm, __CUDA_ARCH__, device globals or raw __launch_bounds__ in kernel code"
fi
exit "$status"
