#include "model/token_batches.h"

#include "core/check.h"

namespace llcpress {

TokenBatches::TokenBatches(const formats::MegatronDataset& dataset, int seq_len)
    : dataset_(&dataset), seq_len_(seq_len) {
  LLC_CHECK(seq_len >= 1, ConfigError, "--seq-len", "use a sequence length >= 1", "seq_len {} is not positive",
            seq_len);
}

void TokenBatches::read(std::span<const std::int64_t> sequences, std::span<std::int32_t> tokens) const {
  const std::size_t window = static_cast<std::size_t>(seq_len_) + 1;
  LLC_CHECK(tokens.size() == sequences.size() * window, InputError, dataset_->prefix(), "this is a bug in the caller",
            "token buffer holds {} values, {} sequences of {} tokens need {}", tokens.size(), sequences.size(), window,
            sequences.size() * window);
  for (std::size_t row = 0; row < sequences.size(); ++row) {
    const std::int64_t sequence = sequences[row];
    LLC_CHECK(sequence >= 0 && static_cast<std::size_t>(sequence) < dataset_->num_sequences(), InputError,
              dataset_->prefix(), "choose sequence numbers below the dataset's sequence count",
              "sequence {} is out of range: the dataset has {} sequences", sequence, dataset_->num_sequences());
    const std::int32_t length = dataset_->sequence_length(static_cast<std::size_t>(sequence));
    LLC_CHECK(static_cast<std::int64_t>(length) >= static_cast<std::int64_t>(window), InputError, dataset_->prefix(),
              "use a shorter --seq-len (at most the sequence length minus one)",
              "sequence {} has {} tokens, seq_len {} needs {} (inputs plus the shifted targets)", sequence, length,
              seq_len_, window);
    dataset_->read_tokens(static_cast<std::size_t>(sequence), 0, tokens.subspan(row * window, window));
  }
}

void TokenBatches::read_range(std::size_t first, std::size_t count, std::span<std::int32_t> tokens) const {
  std::vector<std::int64_t> sequences(count);
  for (std::size_t i = 0; i < count; ++i) sequences[i] = static_cast<std::int64_t>(first + i);
  read(sequences, tokens);
}

}  // namespace llcpress
