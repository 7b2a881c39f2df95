#include "lattice/scalar_quantizer.h"

#include <algorithm>
#include <cmath>

#include "core/check.h"

namespace llcpress::lattice {

ScalarEncoded scalar_encode(const float* data, std::int64_t vectors, std::int64_t length, int bits) {
  LLC_CHECK(bits >= 1 && bits <= 8, ConfigError, "scalar quantizer", "use 1..8 bits", "bits = {}", bits);
  LLC_CHECK(vectors >= 1 && length >= 1, InputError, "scalar quantizer", "pass a non-empty matrix",
            "{} vectors of length {}", vectors, length);
  ScalarEncoded encoded;
  encoded.bits = bits;
  encoded.vectors = vectors;
  encoded.length = length;
  encoded.max_abs.resize(vectors);
  encoded.codes.resize(vectors * length);
  const int cells = 1 << bits;
  bool finite = true;
#pragma omp parallel for schedule(static)
  for (std::int64_t v = 0; v < vectors; ++v) {
    const float* x = data + v * length;
    float largest = 0;
    for (std::int64_t i = 0; i < length; ++i) largest = std::max(largest, std::fabs(x[i]));
    if (!std::isfinite(largest)) {
#pragma omp atomic write
      finite = false;
    }
    encoded.max_abs[v] = largest;
    // cell = floor((x/m + 1)·cells/2), clamped so that x = m lands in the top cell.
    const float to_cell = largest > 0 ? 0.5f * cells / largest : 0.0f;
    std::uint8_t* code = encoded.codes.data() + v * length;
    for (std::int64_t i = 0; i < length; ++i) {
      float cell = std::floor((x[i] + largest) * to_cell);
      code[i] = static_cast<std::uint8_t>(std::clamp(cell, 0.0f, static_cast<float>(cells - 1)));
    }
  }
  LLC_CHECK(finite, InputError, "scalar quantizer", "remove NaN/Inf entries", "the matrix has non-finite entries");
  return encoded;
}

void scalar_decode(float* out, const ScalarEncoded& encoded) {
  const int cells = 1 << encoded.bits;
#pragma omp parallel for schedule(static)
  for (std::int64_t v = 0; v < encoded.vectors; ++v) {
    const float m = encoded.max_abs[v];
    const float step = 2.0f * m / cells;
    const std::uint8_t* code = encoded.codes.data() + v * encoded.length;
    float* y = out + v * encoded.length;
    for (std::int64_t i = 0; i < encoded.length; ++i) y[i] = -m + (code[i] + 0.5f) * step;
  }
}

}  // namespace llcpress::lattice
