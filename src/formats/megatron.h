// Megatron MMapIndexedDataset (REFERENCE §2): PREFIX.idx and PREFIX.bin.
// .idx = "MMIDIDX\0\0", u64 version 1, u8 dtype code, u64 N, u64 M,
// i32 sizes[N], i64 pointers[N] (byte offsets into .bin), i64 doc_idx[M].
// The arrays start at byte 34 and are therefore not aligned for their element
// types: every access goes through memcpy, never through a typed pointer.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "formats/dtype.h"
#include "formats/mapped_file.h"

namespace llcpress::formats {

// dtype codes as GPT-NeoX (which wrote the Pythia data) numbers them:
// 1 u8, 2 i8, 3 i16, 4 i32, 5 i64, 6 f32, 7 f64, 8 u16. (Megatron-core swapped
// 6 and 7, and fairseq used 6 for float64; token files are integer in practice.)
std::optional<DType> megatron_dtype_from_code(std::uint8_t code);
std::uint8_t megatron_code_from_dtype(DType dtype);  // throws InputError for types without a code

// How much of the index open() validates. Full checks every sequence's
// pointer and length against the .bin and the whole doc_idx (one pass over
// the .idx; about 12 bytes per sequence). Structure checks only the header and
// the array sizes; each sequence is then checked when it is read, so both are
// safe, Full just reports a corrupt file earlier.
enum class IndexCheck { Full, Structure };

class MegatronDataset {
 public:
  static MegatronDataset open(const std::string& prefix,
                              IndexCheck check = IndexCheck::Full);  // PREFIX without .idx/.bin
  // Fully validates an index file already in memory against a .bin of `bin_size` bytes (fuzzer).
  static void validate_index(std::span<const std::byte> idx, std::size_t bin_size, const std::string& where);

  const std::string& prefix() const { return prefix_; }
  DType dtype() const { return dtype_; }
  std::size_t num_sequences() const { return num_sequences_; }
  std::int32_t sequence_length(std::size_t i) const;
  std::int64_t sequence_pointer(std::size_t i) const;  // byte offset into .bin
  std::size_t num_doc_idx() const { return num_doc_idx_; }
  std::int64_t doc_idx(std::size_t j) const;
  std::vector<std::int64_t> doc_idx() const;  // a copy of the whole array
  std::uint64_t total_tokens() const;         // sum of the sequence lengths (one pass over sizes)
  std::size_t bin_size() const { return bin_.size(); }
  // Copies tokens [begin, begin + out.size()) of sequence i, converted to int32.
  // Throws InputError for values that are not integers representable in int32.
  void read_tokens(std::size_t i, std::int64_t begin, std::span<std::int32_t> out) const;
  std::vector<std::int32_t> sequence(std::size_t i) const;
  // Smallest and largest token of sequences [first, first + count) (one pass
  // over their tokens; clamped to the dataset). Empty range: {0, -1}.
  std::pair<std::int64_t, std::int64_t> token_range(std::size_t first = 0,
                                                    std::size_t count = std::numeric_limits<std::size_t>::max()) const;

 private:
  std::string prefix_;
  MappedFile idx_, bin_;
  DType dtype_ = DType::U16;
  std::size_t num_sequences_ = 0, num_doc_idx_ = 0;
  std::span<const std::byte> sizes_, pointers_, doc_idx_;  // raw little-endian arrays inside idx_
  // The bytes of sequence i in .bin, after checking them against its size.
  std::span<const std::byte> sequence_bytes(std::size_t i) const;
};

// Writes PREFIX.idx / PREFIX.bin (each atomically) as Megatron's builder does:
// tokens back to back in .bin, pointers = running byte offsets. doc_idx
// defaults to 0..N (every sequence its own document). Throws InputError when
// a token does not fit `dtype` exactly.
void write_megatron(const std::string& prefix, const std::vector<std::vector<std::int64_t>>& sequences, DType dtype,
                    std::vector<std::int64_t> doc_idx = {});

}  // namespace llcpress::formats
