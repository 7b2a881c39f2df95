// libFuzzer target: the Megatron .idx validator (header, array sizes, every
// sequence's pointer and length, doc_idx), against a small and a huge .bin so
// both the pointer checks and the doc_idx checks behind them are reached.
// InputError is a clean refusal; anything else is a finding.
#include <cstddef>
#include <cstdint>
#include <span>

#include "core/error.h"
#include "formats/megatron.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data), size);
  for (std::size_t bin_size : {std::size_t{256}, std::size_t{1} << 40}) {
    try {
      llcpress::formats::MegatronDataset::validate_index(bytes, bin_size, "fuzz.idx");
    } catch (const llcpress::InputError&) {
    }
  }
  return 0;
}
