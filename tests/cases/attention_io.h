// AttentionIo: Q, K, V and O of one attention problem in device memory, in the layouts the model
// uses (kernels/attention.h), filled from dense [S, H, N, D] host tensors and read back into
// them. The case list (attention_cases.cpp) and the attention tests share it.
//
// Every element a kernel must not read (the padded lanes D .. Dp-1 of q, k, v) holds NaN, so a
// kernel that reads one and multiplies it by zero fails; o starts all NaN, so an element left
// unwritten fails too.
#pragma once

#include <cstddef>
#include <memory>
#include <vector>

#include "kernels/attention.h"
#include "tests/reference/attention_ref.h"
#include "tests/support/device_tensor.h"

namespace mvit {
namespace test {

enum class QkvLayout {
  kPacked,     // one [S, N, 3, H, Dp] buffer: the QKV projection's output
  kHeadMajor,  // three [S, H, N, Dp] buffers
};
enum class OutLayout {
  kTokenMajor,  // [S, N, H, Dp]: the out-projection's input
  kHeadMajor,   // [S, H, N, Dp]
};

struct AttentionLayout {
  QkvLayout qkv = QkvLayout::kPacked;
  OutLayout out = OutLayout::kTokenMajor;
  int dp = 0;         // head lanes in memory, 0 = D
  size_t offset = 0;  // elements added to every buffer's 256-byte-aligned base (misalignment)
};

class AttentionIo {
 public:
  AttentionIo(const AttentionShape& s, DType dtype, const AttentionLayout& layout,
              int replicas = 1);

  // Dense [S, H, N, D] values (rounded to the dtype by the upload) into every replica.
  void upload(const std::vector<float>& q, const std::vector<float>& k,
              const std::vector<float>& v);
  // The op's params for replica r: pointers, strides, sizes, dtype; impl kAuto.
  AttentionParams params(int replica = 0) const;
  // o of replica 0 as dense [S, H, N, D]; with `pads`, also its padded lanes (S * H * N * (Dp - D)
  // values), from the same download.
  std::vector<float> download_o(std::vector<float>* pads = nullptr) const;
  // Sets every element of o (every replica) to NaN.
  void poison_o();
  // The least traffic of one launch: the D lanes of q, k, v read once, the Dp lanes of o written.
  double bytes() const;

 private:
  size_t qkv_index(int which, int s, int h, int n) const;  // element of lane 0, in its buffer
  size_t o_index(int s, int h, int n) const;

  AttentionShape s_;
  DType dtype_;
  AttentionLayout layout_;
  int dp_;
  std::unique_ptr<DeviceTensor> qkv_[3];  // kPacked: only [0]
  std::unique_ptr<DeviceTensor> o_;
};

}  // namespace test
}  // namespace mvit
