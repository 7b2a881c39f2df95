// Megatron MMapIndexedDataset (REFERENCE §2): PREFIX.idx and PREFIX.bin.
// .idx = "MMIDIDX\0\0", u64 version 1, u8 dtype code, u64 N, u64 M,
// i32 sizes[N], i64 pointers[N] (byte offsets into .bin), i64 doc_idx[M].
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "formats/dtype.h"
#include "formats/mapped_file.h"

namespace llcpress::formats {

// dtype codes: 1 u8, 2 i8, 3 i16, 4 i32, 5 i64, 6 f32, 7 f64, 8 u16.
std::optional<DType> megatron_dtype_from_code(std::uint8_t code);
std::uint8_t megatron_code_from_dtype(DType dtype);  // throws for types without a code

class MegatronDataset {
 public:
  static MegatronDataset open(const std::string& prefix);  // PREFIX without .idx/.bin
  // Validates an index file already in memory against a .bin of `bin_size` bytes (fuzzer).
  static void validate_index(std::span<const std::byte> idx, std::size_t bin_size, const std::string& where);

  const std::string& prefix() const { return prefix_; }
  DType dtype() const { return dtype_; }
  std::size_t num_sequences() const { return sizes_.size(); }
  std::int32_t sequence_length(std::size_t i) const;
  std::span<const std::int64_t> doc_idx() const { return doc_idx_; }
  std::uint64_t total_tokens() const;
  // Copies tokens [begin, begin + out.size()) of sequence i, converted to int32.
  void read_tokens(std::size_t i, std::int64_t begin, std::span<std::int32_t> out) const;
  std::vector<std::int32_t> sequence(std::size_t i) const;
  // Smallest and largest token over the whole dataset (one pass).
  std::pair<std::int64_t, std::int64_t> token_range() const;

 private:
  std::string prefix_;
  MappedFile idx_, bin_;
  DType dtype_ = DType::U16;
  std::span<const std::int32_t> sizes_;
  std::span<const std::int64_t> pointers_;
  std::span<const std::int64_t> doc_idx_;
};

// Writes PREFIX.idx / PREFIX.bin (atomically). doc_idx defaults to 0..N.
void write_megatron(const std::string& prefix, const std::vector<std::vector<std::int64_t>>& sequences,
                    DType dtype, std::vector<std::int64_t> doc_idx = {});

}  // namespace llcpress::formats
