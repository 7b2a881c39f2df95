// pytorch_model.bin as torch.save writes it since 1.6 (REFERENCE §2): an
// uncompressed ZIP (zip64 for large files) holding <prefix>/data.pkl, the raw
// storages <prefix>/data/<key> and <prefix>/version. data.pkl is read by a
// restricted pickle machine that understands only what a state dict needs
// (dicts, tuples, OrderedDict, torch._utils._rebuild_tensor_v2, the storage
// classes, persistent ids); any other global or opcode is refused. Nothing in
// the file is ever executed.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "formats/mapped_file.h"
#include "formats/tensor.h"

namespace llcpress::formats {

class TorchBinFile {
 public:
  static TorchBinFile open(const std::string& path);
  static TorchBinFile parse(std::span<const std::byte> bytes, const std::string& name);

  const std::string& path() const { return path_; }
  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  bool contains(const std::string& name) const;
  // Contiguous tensors are views into the map; strided ones are gathered into
  // an owned buffer on first use.
  TensorView tensor(const std::string& name) const;

 private:
  std::string path_;
  MappedFile file_;
  std::vector<TensorInfo> tensors_;
  std::vector<std::span<const std::byte>> tensor_bytes_;
  std::map<std::string, std::size_t> index_;
  mutable std::map<std::string, std::vector<std::byte>> gathered_;
  friend struct TorchBinParser;
};

// Parses only the pickle stream (used by the fuzzer and by TorchBinFile).
// Returns, per tensor name: storage key, dtype, storage offset, shape, stride.
struct PickledTensor {
  std::string name;
  std::string storage_key;
  DType dtype = DType::F32;
  std::int64_t storage_offset = 0;  // in elements
  std::int64_t storage_numel = 0;
  std::vector<std::int64_t> shape, stride;
};
std::vector<PickledTensor> parse_state_dict_pickle(std::span<const std::byte> pickle, const std::string& where);

// Minimal ZIP reader (stored entries only; deflated entries are refused with a
// hint): central directory, zip64 extra fields and end-of-central-directory.
struct ZipEntry {
  std::string name;
  std::span<const std::byte> data;
};
std::vector<ZipEntry> read_zip_stored(std::span<const std::byte> archive, const std::string& where);

}  // namespace llcpress::formats
