#include "model/ops/embedding.h"

#include <algorithm>
#include <cstring>

#include "model/ops/eigen_maps.h"

namespace llcpress::ops {

void embedding_forward(float* output, const std::int32_t* tokens, const float* table, std::int64_t rows, int hidden) {
#pragma omp parallel for schedule(static)
  for (std::int64_t row = 0; row < rows; ++row) {
    std::memcpy(output + row * hidden, table + static_cast<std::int64_t>(tokens[row]) * hidden,
                sizeof(float) * static_cast<std::size_t>(hidden));
  }
}

void embedding_backward(float* d_table, const float* d_output, const std::int32_t* tokens, std::int64_t rows,
                        int hidden) {
  // Threads split the hidden dimension, not the rows: two rows with the same
  // token would otherwise race on one table row. Every thread walks the rows
  // in order, so the sums are deterministic.
  const int chunks = (hidden + kColumnChunk - 1) / kColumnChunk;
#pragma omp parallel for schedule(static)
  for (int chunk = 0; chunk < chunks; ++chunk) {
    const int begin = chunk * kColumnChunk;
    const int end = std::min(hidden, begin + kColumnChunk);
    for (std::int64_t row = 0; row < rows; ++row) {
      float* target = d_table + static_cast<std::int64_t>(tokens[row]) * hidden;
      const float* source = d_output + row * hidden;
      for (int j = begin; j < end; ++j) target[j] += source[j];
    }
  }
}

}  // namespace llcpress::ops
