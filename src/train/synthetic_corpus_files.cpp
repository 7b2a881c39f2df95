// Kept apart from synthetic_corpus.cpp so the generator links without the
// Megatron writer (tests of the language need no file I/O).
#include "formats/megatron.h"
#include "train/synthetic_corpus.h"

namespace llcpress {

void write_synthetic_split(const std::string& prefix, const SyntheticLanguage& language, CorpusSplit split,
                           std::size_t count) {
  std::vector<std::vector<std::int64_t>> sequences(count);
  for (std::size_t i = 0; i < count; ++i) {
    std::vector<std::int32_t> tokens = language.generate(split, i);
    sequences[i].assign(tokens.begin(), tokens.end());
  }
  formats::write_megatron(prefix, sequences, formats::DType::U16);
}

}  // namespace llcpress
