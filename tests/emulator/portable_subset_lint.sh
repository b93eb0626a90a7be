#!/usr/bin/env bash
# Fails if kernel code outside kernels/common and emulator/ uses what the portable subset forbids
# (shared/DESIGN.md section 6): <<<>>> launches, raw __shared__, inline PTX, __CUDA_ARCH__.
# The files under tests/emulator/must_not_compile/ break these rules on purpose.
cd "$1" || exit 2
hits=$(grep -rnE '<<<|^\s*(extern\s+)?__shared__|\basm\s*(volatile)?\s*\(|__CUDA_ARCH__' \
         --include='*.cu' --include='*.cuh' kernels tests tools runtime 2>/dev/null |
       grep -v -e '^kernels/common/' -e '^tests/emulator/must_not_compile/')
if [ -n "$hits" ]; then
  echo "portable subset violations:"
  echo "$hits"
  exit 1
fi
echo "no <<<>>>, raw __shared__, inline asm or __CUDA_ARCH__ in kernel code"
