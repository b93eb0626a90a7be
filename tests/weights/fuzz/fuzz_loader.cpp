// libFuzzer target for the model loader: safetensors index, model.json, and whole models (project
// format and Hugging Face) from memory. Byte 0 of the input picks the parser (fuzz_input.h).
// mvit::Error is the expected outcome for bad input; anything else (a crash, an ASan/UBSan report,
// a leak, another exception type, a timeout) is a finding.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "kernels/common/check.h"
#include "runtime/model.h"
#include "runtime/model_json.h"
#include "runtime/safetensors.h"
#include "tests/weights/fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  try {
    switch (static_cast<uint8_t>(in[0]) % 4) {
      case mvit::fuzz::kSafetensors:
        mvit::parse_safetensors(in.substr(1), "fuzz.safetensors");
        break;
      case mvit::fuzz::kModelJson:
        mvit::parse_model_json(in.substr(1), "fuzz/model.json");
        break;
      default: {
        mvit::ModelFiles files;
        if (!mvit::fuzz::decode(in, files)) return 0;
        mvit::LoadOptions options;
        options.max_weights_bytes = 1 << 20;  // keeps every run fast; the cap itself is tested
        const mvit::Model m = mvit::Model::from_files(files, options);
        // Touch what a caller reads, so a bad tensor view shows up under ASan here.
        for (const mvit::HostTensor& t : m.tensors()) {
          if (t.dtype != mvit::WeightDType::kI64 && t.elements() > 0) (void)t.to_float();
        }
        (void)mvit::parameter_count(m.spec());
        (void)mvit::mac_count(m.spec());
        break;
      }
    }
  } catch (const mvit::Error&) {
    // Rejected with a message: the loader did its job.
  }
  return 0;
}
