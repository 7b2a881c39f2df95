// pytorch_model.bin as torch.save writes it since 1.6 (REFERENCE §2): an
// uncompressed ZIP (zip64 for large files) holding <prefix>/data.pkl, the raw
// storages <prefix>/data/<key> and <prefix>/version. data.pkl is read by a
// restricted pickle machine that understands only what a state dict needs
// (dicts, tuples, OrderedDict, torch._utils._rebuild_tensor_v2/_v3, the storage
// classes, persistent ids); any other global or opcode is refused. Nothing in
// the file is ever executed.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "formats/mapped_file.h"
#include "formats/tensor.h"

namespace llcpress::formats {

class TorchBinFile {
 public:
  // Throws IoError when the file cannot be read and InputError (naming the
  // file, the archive entry and the problem) when it is not a state dict we can
  // read safely.
  static TorchBinFile open(const std::string& path);
  // The same from bytes in memory; the returned views point into `bytes`,
  // which must outlive the TorchBinFile. `name` is used in error messages.
  static TorchBinFile parse(std::span<const std::byte> bytes, const std::string& name);

  TorchBinFile(TorchBinFile&&) noexcept;
  TorchBinFile& operator=(TorchBinFile&&) noexcept;
  ~TorchBinFile();

  const std::string& path() const { return path_; }
  // In the order the state dict lists them.
  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  bool contains(const std::string& name) const;
  // Contiguous tensors are views into the map; strided ones (a transpose saved
  // as such, or a slice sharing a larger storage) are gathered into an owned
  // C-order buffer on first use, kept for the file's lifetime. Thread-safe.
  TensorView tensor(const std::string& name) const;

 private:
  TorchBinFile() = default;
  void load(std::span<const std::byte> bytes);

  // Where a tensor's elements live: its whole storage, plus torch's view
  // parameters (in elements of the tensor's dtype).
  struct StoredTensor {
    std::span<const std::byte> storage;
    std::int64_t storage_offset = 0;
    std::vector<std::int64_t> stride;
    bool contiguous = true;
  };

  std::string path_;
  MappedFile file_;
  std::vector<TensorInfo> tensors_;
  std::vector<StoredTensor> stored_;
  std::map<std::string, std::size_t> index_;
  std::unique_ptr<std::mutex> gather_mutex_;
  // Node-based, so a gathered buffer never moves once handed out.
  mutable std::map<std::string, std::vector<std::byte>> gathered_;
};

// Parses only the pickle stream (used by the fuzzer and by TorchBinFile).
// Returns, per tensor name in state-dict order: storage key, dtype, storage
// offset, shape, stride. Checks that every tensor's strided extent fits in its
// storage's element count; `where` names the stream in error messages.
struct PickledTensor {
  std::string name;
  std::string storage_key;
  DType dtype = DType::F32;
  std::int64_t storage_offset = 0;  // in elements
  std::int64_t storage_numel = 0;   // in elements of `dtype`
  std::vector<std::int64_t> shape, stride;
};
// Bounds on the work a stream may ask for, so that memory grows by at most a
// few bytes per input byte whatever the stream does. The defaults are far
// above any state dict (about a dozen objects and thirty stack pushes per
// tensor: 2^22 objects cover some 300,000 tensors); tests lower them.
struct PickleLimits {
  std::size_t max_objects = std::size_t{1} << 22;  // also bounds memo entries and open MARKs
  std::size_t max_pushes = std::size_t{1} << 24;   // stack pushes (each may end up inside a container)
};
std::vector<PickledTensor> parse_state_dict_pickle(std::span<const std::byte> pickle, const std::string& where,
                                                   const PickleLimits& limits = {});

// Minimal ZIP reader (stored entries only; deflated entries are refused with a
// hint): end-of-central-directory, zip64 locator/record and extra fields,
// central directory and local headers, every offset checked against the
// archive size. Entries are returned in central-directory order.
struct ZipEntry {
  std::string name;
  std::span<const std::byte> data;
};
std::vector<ZipEntry> read_zip_stored(std::span<const std::byte> archive, const std::string& where);

}  // namespace llcpress::formats
