// Token embedding lookup: output row r = table row tokens[r].
#pragma once

#include <cstdint>

namespace llcpress::ops {

// output: (rows, hidden); tokens: (rows), each in [0, vocab) (checked by the
// caller); table: (vocab, hidden).
void embedding_forward(float* output, const std::int32_t* tokens, const float* table, std::int64_t rows, int hidden);

// d_table: (vocab, hidden), ACCUMULATED (+=): a token seen twice adds twice,
// and rows never looked up are left untouched (the caller zeroes it first).
// d_output: (rows, hidden); tokens: (rows).
void embedding_backward(float* d_table, const float* d_output, const std::int32_t* tokens, std::int64_t rows,
                        int hidden);

}  // namespace llcpress::ops
