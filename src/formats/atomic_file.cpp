#include "formats/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "core/check.h"

namespace llcpress::formats {

AtomicFileWriter::AtomicFileWriter(std::string path)
    : path_(std::move(path)), temporary_path_(path_ + ".tmp." + std::to_string(::getpid())) {
  fd_ = ::open(temporary_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  LLC_CHECK(fd_ >= 0, IoError, temporary_path_, "check that the directory exists and is writable", "cannot create: {}",
            std::strerror(errno));
}

AtomicFileWriter::~AtomicFileWriter() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_) ::unlink(temporary_path_.c_str());
}

void AtomicFileWriter::write(std::span<const std::byte> bytes) {
  LLC_REQUIRE(fd_ >= 0 && !committed_, "write after commit to {}", path_);
  const std::byte* next = bytes.data();
  std::size_t left = bytes.size();
  while (left > 0) {
    ssize_t written = ::write(fd_, next, left);
    if (written < 0 && errno == EINTR) continue;
    LLC_CHECK(written > 0, IoError, temporary_path_, "check free disk space", "write failed: {}", std::strerror(errno));
    next += written;
    left -= static_cast<std::size_t>(written);
  }
}

void AtomicFileWriter::commit() {
  LLC_REQUIRE(fd_ >= 0 && !committed_, "second commit of {}", path_);
  LLC_CHECK(::fsync(fd_) == 0, IoError, temporary_path_, "", "fsync failed: {}", std::strerror(errno));
  int status = ::close(fd_);
  fd_ = -1;
  LLC_CHECK(status == 0, IoError, temporary_path_, "", "close failed: {}", std::strerror(errno));
  LLC_CHECK(::rename(temporary_path_.c_str(), path_.c_str()) == 0, IoError, path_, "",
            "cannot rename {} into place: {}", temporary_path_, std::strerror(errno));
  committed_ = true;
}

}  // namespace llcpress::formats
