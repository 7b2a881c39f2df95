// Writes a file so that readers see either the old content or the complete new
// one, never a prefix: bytes go to PATH.tmp.<pid>, are flushed to disk, and the
// temporary is renamed over PATH on commit(). Without commit() (an exception,
// an early return) the temporary is removed.
#pragma once

#include <cstddef>
#include <span>
#include <string>

namespace llcpress::formats {

class AtomicFileWriter {
 public:
  explicit AtomicFileWriter(std::string path);  // throws IoError naming the path
  ~AtomicFileWriter();
  AtomicFileWriter(const AtomicFileWriter&) = delete;
  AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;

  void write(std::span<const std::byte> bytes);
  void write(const void* data, std::size_t size) { write({static_cast<const std::byte*>(data), size}); }
  void commit();

  const std::string& path() const { return path_; }

 private:
  std::string path_, temporary_path_;
  int fd_ = -1;
  bool committed_ = false;
};

}  // namespace llcpress::formats
