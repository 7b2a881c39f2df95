// Token embedding on the GPU: the CPU twin's (model/ops/embedding.h) names,
// signatures and buffer conventions, with device pointers.
#pragma once

#include <cstdint>

namespace llcpress::cuda {

// output: (rows, hidden); tokens: (rows), each in [0, vocab) (checked by the
// caller); table: (vocab, hidden).
void embedding_forward(float* output, const std::int32_t* tokens, const float* table, std::int64_t rows, int hidden);

// d_table: (vocab, hidden), ACCUMULATED (+=); d_output: (rows, hidden);
// tokens: (rows). Deterministic without float atomics: the rows are grouped
// by token on the host (the token ids are copied back, B·T int32s; the stream
// is synchronised once), and one thread block owns each distinct token's
// table row, adding that token's rows in ascending row order — the CPU twin's
// order, so the sums are bit-identical to it.
void embedding_backward(float* d_table, const float* d_output, const std::int32_t* tokens, std::int64_t rows,
                        int hidden);

}  // namespace llcpress::cuda
