#include "formats/tensor.h"

#include <cstring>
#include <limits>

#include "core/check.h"

namespace llcpress::formats {

std::int64_t TensorInfo::numel() const {
  // Readers validate shapes (non-negative, product without overflow) before
  // building a TensorInfo; re-check here so a hand-built one cannot wrap.
  std::int64_t count = 1;
  for (std::int64_t extent : shape) {
    LLC_CHECK(extent >= 0, InputError, name, "", "negative extent {} in shape", extent);
    LLC_CHECK(extent == 0 || count <= std::numeric_limits<std::int64_t>::max() / extent, InputError, name, "",
              "shape has more than 2^63 elements");
    count *= extent;
  }
  return count;
}

void TensorView::copy_to_f32(float* destination) const {
  const auto count = static_cast<std::size_t>(info.numel());
  LLC_REQUIRE(bytes.size() == count * dtype_size(info.dtype), "tensor '{}': {} bytes for {} elements of {}", info.name,
              bytes.size(), count, dtype_name(info.dtype));
  convert_to_f32(destination, bytes.data(), info.dtype, count);
}

std::vector<float> TensorView::to_f32() const {
  std::vector<float> values(static_cast<std::size_t>(info.numel()));
  copy_to_f32(values.data());
  return values;
}

TensorData TensorData::from_f32(std::string name, std::vector<std::int64_t> shape, std::span<const float> values,
                                DType stored_as) {
  TensorData tensor;
  tensor.info.name = std::move(name);
  tensor.info.dtype = stored_as;
  tensor.info.shape = std::move(shape);
  LLC_CHECK(static_cast<std::size_t>(tensor.info.numel()) == values.size(), InputError, tensor.info.name, "",
            "{} values for a shape of {} elements", values.size(), tensor.info.numel());
  tensor.bytes.resize(values.size() * dtype_size(stored_as));
  convert_from_f32(tensor.bytes.data(), values.data(), stored_as, values.size());
  return tensor;
}

}  // namespace llcpress::formats
