#include "model/ops/cross_entropy.h"

#include <algorithm>
#include <cmath>

#include "model/ops/eigen_maps.h"

namespace llcpress::ops {

namespace {
// The sum of exponentials is taken in float over segments of this many
// entries (vectorised) and the segment sums are added in double, so a 50k
// vocabulary loses no more than a few float roundings of accuracy.
constexpr int kSumSegment = 1024;
}  // namespace

double cross_entropy_forward(float* losses, float* log_sum_exp, const float* logits, const std::int32_t* targets,
                             std::int64_t rows, int vocab) {
#pragma omp parallel for schedule(static)
  for (std::int64_t row = 0; row < rows; ++row) {
    const ConstArrayMap x(logits + row * vocab, vocab);  // (vocab)
    const float max_logit = x.maxCoeff();
    double sum = 0.0;
    for (int begin = 0; begin < vocab; begin += kSumSegment) {
      const int size = std::min(kSumSegment, vocab - begin);
      sum += static_cast<double>((x.segment(begin, size) - max_logit).exp().sum());
    }
    const double lse = static_cast<double>(max_logit) + std::log(sum);
    log_sum_exp[row] = static_cast<float>(lse);
    losses[row] = static_cast<float>(lse - static_cast<double>(x[targets[row]]));
  }
  double total = 0.0;
  for (std::int64_t row = 0; row < rows; ++row) total += losses[row];
  return rows > 0 ? total / static_cast<double>(rows) : 0.0;
}

void cross_entropy_backward(float* d_logits, const float* logits, const float* log_sum_exp, const std::int32_t* targets,
                            float d_loss, std::int64_t rows, int vocab) {
#pragma omp parallel for schedule(static)
  for (std::int64_t row = 0; row < rows; ++row) {
    const ConstArrayMap x(logits + row * vocab, vocab);  // (vocab)
    ArrayMap dx(d_logits + row * vocab, vocab);          // (vocab)
    const float target_logit = x[targets[row]];          // read before an in-place write overwrites it
    dx = (x - log_sum_exp[row]).exp() * d_loss;
    dx[targets[row]] = (std::exp(target_logit - log_sum_exp[row]) - 1.0f) * d_loss;
  }
}

}  // namespace llcpress::ops
