// The one reader of (batch, seq_len + 1) token windows used by eval, LLC and
// compression: sequence s of a Megatron dataset gives its tokens[0 : seq_len+1]
// (inputs tokens[0:T], targets tokens[1:T+1], as Pythia trained).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "formats/megatron.h"

namespace llcpress {

class TokenBatches {
 public:
  // `dataset` must outlive this reader. seq_len >= 1.
  TokenBatches(const formats::MegatronDataset& dataset, int seq_len);

  int seq_len() const { return seq_len_; }
  std::size_t num_sequences() const { return dataset_->num_sequences(); }
  const formats::MegatronDataset& dataset() const { return *dataset_; }

  // Fills `tokens` (sequences.size(), seq_len + 1) row-major. Throws
  // InputError naming the dataset and sequence when a sequence number is out
  // of range or a sequence is shorter than seq_len + 1 tokens, and when
  // `tokens` has the wrong size.
  void read(std::span<const std::int64_t> sequences, std::span<std::int32_t> tokens) const;
  // Sequences [first, first + count).
  void read_range(std::size_t first, std::size_t count, std::span<std::int32_t> tokens) const;

 private:
  const formats::MegatronDataset* dataset_;
  int seq_len_;
};

}  // namespace llcpress
