// libFuzzer target: the safetensors header parser and validator, then every
// tensor it accepts read back (views must lie inside the input; ASan checks
// the reads) and upcast to fp32. InputError is a clean refusal; any other
// exception (an InternalError from a broken invariant, a stray nlohmann or
// std exception) or a sanitizer report is a finding.
#include <cstddef>
#include <cstdint>
#include <span>

#include "core/error.h"
#include "formats/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data), size);
  try {
    const auto file = llcpress::formats::SafetensorsFile::parse(bytes, "fuzz.safetensors");
    std::size_t covered = 0;
    for (const auto& info : file.tensors()) {
      const auto view = file.tensor(info.name);
      if (view.bytes.size() != info.nbytes()) __builtin_trap();
      covered += view.bytes.size();
      const auto values = view.to_f32();  // at most size / element size floats
      if (values.size() != static_cast<std::size_t>(info.numel())) __builtin_trap();
    }
    // Accepted files tile their data buffer exactly.
    if (covered > size) __builtin_trap();
  } catch (const llcpress::InputError&) {
  }
  return 0;
}
