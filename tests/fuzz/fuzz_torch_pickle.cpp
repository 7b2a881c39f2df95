// libFuzzer target: the restricted pickle machine on arbitrary bytes. Any
// llcpress::Error is a clean refusal; anything else (a crash, a sanitizer
// report, another exception type, a leak) is a finding.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "core/error.h"
#include "formats/torch_bin.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data), size);
  try {
    const auto tensors = llcpress::formats::parse_state_dict_pickle(bytes, "fuzz.pkl");
    // Whatever was accepted must describe views inside their storages.
    for (const auto& tensor : tensors) {
      if (tensor.shape.size() != tensor.stride.size() || tensor.storage_offset < 0 || tensor.storage_numel < 0)
        __builtin_trap();
    }
  } catch (const llcpress::Error&) {
  }
  return 0;
}
