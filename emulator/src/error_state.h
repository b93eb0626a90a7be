// The emulated runtime's error state, in one place: each host thread's last error
// (cudaGetLastError), the device's sticky error after a fault, and the emulator's detail text per
// status (error_detail()). Used by every part of the runtime that reports errors; it uses none of
// them.
#pragma once

#include <cuda_runtime_api.h>

#include <string>

namespace mvit {
namespace emu {

// Records `status` as the calling thread's last error (cudaGetLastError), with a detail text.
[[nodiscard]] cudaError_t fail_api(cudaError_t status, const std::string& detail);
// Records a non-success `status` as the calling thread's last error; returns status.
cudaError_t set_last_error(cudaError_t status);
// Forgets the calling thread's last error (cudaDeviceReset).
void clear_last_error();

// The sticky error of a device fault (cudaSuccess if none); every API then returns it.
[[nodiscard]] cudaError_t sticky_error();
// The first fault wins: later calls leave the sticky error and its detail as they are.
void set_sticky_error(cudaError_t status, const std::string& detail);
void clear_sticky_error();

// set_error_detail() (mvit_emu/device_ops.h) and error_detail() (mvit_emu/emu.h) are defined in
// error_state.cpp too.

}  // namespace emu
}  // namespace mvit
