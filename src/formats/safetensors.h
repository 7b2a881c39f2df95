// safetensors (REFERENCE §2): u64 LE header length N, N bytes of JSON
// {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {str: str}},
// then the byte buffer the offsets index. Every field is validated on open:
// header length against the file, offsets in range, contiguous and non-overlapping,
// size = numel × dtype size, known dtypes only, no tensor named twice, and
// __metadata__ (optional) maps strings to strings.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "formats/mapped_file.h"
#include "formats/tensor.h"

namespace llcpress::formats {

class SafetensorsFile {
 public:
  static SafetensorsFile open(const std::string& path);  // throws InputError naming path and problem
  // Parses from bytes already in memory (used by the fuzzer); `name` appears in
  // errors. The returned views point into `bytes`, which must outlive the object.
  static SafetensorsFile parse(std::span<const std::byte> bytes, const std::string& name);

  const std::string& path() const { return path_; }
  const std::vector<TensorInfo>& tensors() const { return tensors_; }  // in file-offset order
  bool contains(const std::string& name) const;
  TensorView tensor(const std::string& name) const;  // throws InputError when absent
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

 private:
  void parse_into(std::span<const std::byte> bytes, const std::string& where);

  std::string path_;
  MappedFile file_;
  std::span<const std::byte> data_;  // the byte buffer after the header
  std::vector<TensorInfo> tensors_;
  std::vector<std::span<const std::byte>> tensor_bytes_;
  std::map<std::string, std::size_t> index_;
  std::map<std::string, std::string> metadata_;
};

// Writes tensors in the given order (offsets increasing), header padded with
// spaces to a multiple of 8 bytes as the reference writer does. Atomic:
// written to PATH.tmp.<pid> and renamed.
void write_safetensors(const std::string& path, const std::vector<TensorData>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace llcpress::formats
