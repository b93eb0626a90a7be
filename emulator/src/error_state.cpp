// The emulated runtime's error state (error_state.h) and the two CUDA calls that read it directly,
// cudaGetLastError and cudaPeekAtLastError.
#include "error_state.h"

#include <atomic>
#include <map>
#include <mutex>

#include "mvit_emu/device_ops.h"
#include "mvit_emu/emu.h"

namespace mvit {
namespace emu {

namespace {

thread_local cudaError_t t_last_error = cudaSuccess;
std::mutex g_error_mutex;
cudaError_t g_sticky = cudaSuccess;  // read without the lock on hot paths: see sticky_error()
std::atomic<int> g_sticky_flag{0};
std::map<int, std::string> g_details;

}  // namespace

cudaError_t set_last_error(cudaError_t status) {
  if (status != cudaSuccess) t_last_error = status;
  return status;
}

void clear_last_error() {
  t_last_error = cudaSuccess;
}

cudaError_t fail_api(cudaError_t status, const std::string& detail) {
  set_error_detail(status, detail);
  return set_last_error(status);
}

void set_error_detail(cudaError_t status, const std::string& detail) {
  std::lock_guard<std::mutex> lock(g_error_mutex);
  g_details[static_cast<int>(status)] = detail;
}

std::string error_detail(cudaError_t status) {
  std::lock_guard<std::mutex> lock(g_error_mutex);
  auto it = g_details.find(static_cast<int>(status));
  return it == g_details.end() ? std::string() : it->second;
}

cudaError_t sticky_error() {
  if (g_sticky_flag.load(std::memory_order_acquire) == 0) return cudaSuccess;
  std::lock_guard<std::mutex> lock(g_error_mutex);
  return g_sticky;
}

void set_sticky_error(cudaError_t status, const std::string& detail) {
  std::lock_guard<std::mutex> lock(g_error_mutex);
  if (g_sticky != cudaSuccess) return;  // the first fault is the one to report
  g_sticky = status;
  g_details[static_cast<int>(status)] = detail;
  g_sticky_flag.store(1, std::memory_order_release);
}

void clear_sticky_error() {
  std::lock_guard<std::mutex> lock(g_error_mutex);
  g_sticky = cudaSuccess;
  g_sticky_flag.store(0, std::memory_order_release);
}

}  // namespace emu
}  // namespace mvit

using namespace mvit::emu;

cudaError_t cudaGetLastError(void) {
  if (cudaError_t s = sticky_error()) return s;
  const cudaError_t e = t_last_error;
  t_last_error = cudaSuccess;
  return e;
}

cudaError_t cudaPeekAtLastError(void) {
  if (cudaError_t s = sticky_error()) return s;
  return t_last_error;
}
