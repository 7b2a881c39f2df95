#include "model/ops/rotary.h"

#include <cmath>

namespace llcpress::ops {

void rotary_tables(float* cos_table, float* sin_table, int max_positions, int rotary_dims, double base) {
  const int half = rotary_dims / 2;
  for (int j = 0; j < half; ++j) {
    // transformers: 1.0 / (base ** (arange(0, r, 2).float() / r)) in fp32.
    const float exponent = static_cast<float>(2 * j) / static_cast<float>(rotary_dims);
    const float power =
        static_cast<float>(std::pow(static_cast<double>(static_cast<float>(base)), static_cast<double>(exponent)));
    const float inv_freq = 1.0f / power;
    for (int position = 0; position < max_positions; ++position) {
      const float angle = static_cast<float>(position) * inv_freq;
      cos_table[static_cast<std::int64_t>(position) * half + j] =
          static_cast<float>(std::cos(static_cast<double>(angle)));
      sin_table[static_cast<std::int64_t>(position) * half + j] =
          static_cast<float>(std::sin(static_cast<double>(angle)));
    }
  }
}

namespace {

// Rotates the first `rotary_dims` features of every head's q and k by the
// position angle (sign = +1) or by its negative (sign = −1, the transpose).
template <int Sign>
void rotate(float* qkv, const float* cos_table, const float* sin_table, std::int64_t batch, int seq_len, int heads,
            int head_dim, int rotary_dims) {
  const int half = rotary_dims / 2;
  const std::int64_t row_width = 3LL * heads * head_dim;
  const std::int64_t rows = batch * seq_len;
#pragma omp parallel for schedule(static)
  for (std::int64_t row = 0; row < rows; ++row) {
    const int position = static_cast<int>(row % seq_len);
    const float* cos_row = cos_table + static_cast<std::int64_t>(position) * half;  // (half)
    const float* sin_row = sin_table + static_cast<std::int64_t>(position) * half;  // (half)
    for (int head = 0; head < heads; ++head) {
      // q at offset 0, k at offset head_dim of the head's 3·head_dim block.
      for (int part = 0; part < 2; ++part) {
        float* x = qkv + row * row_width + static_cast<std::int64_t>(head) * 3 * head_dim + part * head_dim;
        for (int j = 0; j < half; ++j) {
          const float first = x[j], second = x[j + half];
          const float c = cos_row[j], s = Sign * sin_row[j];
          x[j] = first * c - second * s;
          x[j + half] = second * c + first * s;
        }
      }
    }
  }
}

}  // namespace

void rotary_forward(float* qkv, const float* cos_table, const float* sin_table, std::int64_t batch, int seq_len,
                    int heads, int head_dim, int rotary_dims) {
  rotate<1>(qkv, cos_table, sin_table, batch, seq_len, heads, head_dim, rotary_dims);
}

void rotary_backward(float* d_qkv, const float* cos_table, const float* sin_table, std::int64_t batch, int seq_len,
                     int heads, int head_dim, int rotary_dims) {
  rotate<-1>(d_qkv, cos_table, sin_table, batch, seq_len, heads, head_dim, rotary_dims);
}

}  // namespace llcpress::ops
