// Softmax cross-entropy of next-token prediction: loss_r = logsumexp(logits_r)
// − logits_r[target_r], computed with the row maximum subtracted so no exp
// overflows; the model loss is the mean over rows.
#pragma once

#include <cstdint>

namespace llcpress::ops {

// losses: (rows) per-row loss, WRITTEN; log_sum_exp: (rows), WRITTEN (for the
// backward pass); logits: (rows, vocab); targets: (rows), each in [0, vocab)
// (checked by the caller). Returns the mean of `losses`, summed in double in
// row order (independent of the thread count).
double cross_entropy_forward(float* losses, float* log_sum_exp, const float* logits, const std::int32_t* targets,
                             std::int64_t rows, int vocab);

// d_logits: (rows, vocab) = d_loss · (softmax(logits) − onehot(target)),
// WRITTEN; may alias `logits` (done in place by the model to save a
// rows × vocab buffer). d_loss: the gradient of the final loss with respect to
// each row's loss (1/rows for a mean).
void cross_entropy_backward(float* d_logits, const float* logits, const float* log_sum_exp, const std::int32_t* targets,
                            float d_loss, std::int64_t rows, int vocab);

}  // namespace llcpress::ops
