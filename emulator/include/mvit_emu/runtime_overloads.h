// The C++ overloads of cuda_runtime.h that take a kernel itself rather than a const void*:
// cuda_runtime.h declares cudaFuncGetAttributes(attr, kernel) and cudaFuncSetAttribute(kernel,
// ...) only under __CUDACC__, and its occupancy templates (cudaOccupancyMaxActiveBlocksPer-
// Multiprocessor, cudaOccupancyMaxPotentialBlockSize), which it declares for g++ too, call
// them. These forward to the C functions of the emulated runtime (src/runtime.cpp), as the
// toolkit's own definitions do. Included by emulator/prelude.h.
#pragma once

#include <cuda_runtime.h>

template <class T>
inline cudaError_t cudaFuncGetAttributes(struct cudaFuncAttributes* attr, T* entry) {
  return ::cudaFuncGetAttributes(attr, reinterpret_cast<const void*>(entry));
}
template <class T>
inline cudaError_t cudaFuncSetAttribute(T* entry, enum cudaFuncAttribute attr, int value) {
  return ::cudaFuncSetAttribute(reinterpret_cast<const void*>(entry), attr, value);
}
