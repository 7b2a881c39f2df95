#include "core/rng.h"

namespace llcpress {

namespace {
template <typename Generate>
void fill_blocks(float* out, std::size_t count, std::uint64_t offset, Generate generate) {
  std::size_t i = 0;
  // Leading partial block, then whole blocks, then the tail.
  while (i < count && (offset + i) % 4 != 0) {
    out[i] = generate((offset + i) / 4).v[(offset + i) % 4];
    ++i;
  }
  const std::size_t whole_blocks = (count - i) / 4;
#pragma omp parallel for schedule(static) if (whole_blocks > (1u << 14))
  for (std::size_t b = 0; b < whole_blocks; ++b) {
    std::size_t j = i + 4 * b;
    Float4 block = generate((offset + j) / 4);
    for (int lane = 0; lane < 4; ++lane) out[j + lane] = block.v[lane];
  }
  std::size_t whole_end = i + whole_blocks * 4;
  for (std::size_t j = whole_end; j < count; ++j) out[j] = generate((offset + j) / 4).v[(offset + j) % 4];
}
}  // namespace

void CounterRng::fill_normal(float* out, std::size_t count, std::uint64_t offset, float scale) const {
  fill_blocks(out, count, offset, [&](std::uint64_t index) { return philox_normal4(seed_, stream_, index); });
  if (scale != 1.0f)
    for (std::size_t i = 0; i < count; ++i) out[i] *= scale;
}

void CounterRng::fill_uniform(float* out, std::size_t count, std::uint64_t offset) const {
  fill_blocks(out, count, offset, [&](std::uint64_t index) { return philox_uniform4(seed_, stream_, index); });
}

}  // namespace llcpress
