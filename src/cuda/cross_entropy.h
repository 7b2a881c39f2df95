// Softmax cross-entropy on the GPU: the CPU twin's (model/ops/cross_entropy.h)
// names, signatures and buffer conventions, with device pointers.
//
// Memory at Pythia sizes: like the CPU op, these work on any number of rows,
// so the caller bounds the fp32 logits it holds by running the unembedding
// GEMM, this forward and this backward on chunks of rows (B·T·V fp32 logits
// are never materialised at once). Within a row the vocabulary is walked with
// an online log-sum-exp, so no row buffer beyond the logits is needed either.
#pragma once

#include <cstdint>

namespace llcpress::cuda {

// losses: (rows), WRITTEN; log_sum_exp: (rows), WRITTEN; logits: (rows, vocab);
// targets: (rows), each in [0, vocab). Returns the mean of `losses`, summed on
// the host in double in row order (as the CPU twin), which waits for the stream.
double cross_entropy_forward(float* losses, float* log_sum_exp, const float* logits, const std::int32_t* targets,
                             std::int64_t rows, int vocab);

// d_logits: (rows, vocab) = d_loss · (softmax(logits) − onehot(target)),
// WRITTEN; may alias `logits`.
void cross_entropy_backward(float* d_logits, const float* logits, const float* log_sum_exp, const std::int32_t* targets,
                            float d_loss, std::int64_t rows, int vocab);

}  // namespace llcpress::cuda
