// libFuzzer target: the stored-ZIP reader, then (when the archive is readable)
// the whole pytorch_model.bin path, touching every byte of every tensor it
// accepts, gathered strided views included. Any llcpress::Error is a clean
// refusal; anything else is a finding.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "core/error.h"
#include "formats/torch_bin.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data), size);
  try {
    const auto entries = llcpress::formats::read_zip_stored(bytes, "fuzz.zip");
    unsigned checksum = 0;
    for (const auto& entry : entries) {
      // Each entry's data must lie inside the input (ASan checks the reads).
      if (!entry.data.empty())
        checksum += static_cast<unsigned>(entry.data.front()) + static_cast<unsigned>(entry.data.back());
    }
    const auto file = llcpress::formats::TorchBinFile::parse(bytes, "fuzz.bin");
    for (const auto& info : file.tensors()) {
      const auto view = file.tensor(info.name);
      for (const std::byte value : view.bytes) checksum += static_cast<unsigned>(value);
      const auto values = view.to_f32();
      if (values.size() != static_cast<std::size_t>(info.numel())) __builtin_trap();
    }
    volatile unsigned sink = checksum;
    (void)sink;
  } catch (const llcpress::Error&) {
  }
  return 0;
}
