#include "formats/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "core/check.h"

namespace llcpress::formats {

namespace {

// Closes the descriptor on every path out of the constructor; the mapping
// stays valid after close, so the file needs no descriptor once mapped.
struct FileDescriptor {
  int fd = -1;
  ~FileDescriptor() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

MappedFile::MappedFile(const std::string& path) : path_(path) {
  FileDescriptor file{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
  LLC_CHECK(file.fd >= 0, IoError, path, "check that the path exists and is readable", "cannot open: {}",
            std::strerror(errno));
  struct stat status {};
  LLC_CHECK(::fstat(file.fd, &status) == 0, IoError, path, "", "cannot stat: {}", std::strerror(errno));
  LLC_CHECK(S_ISREG(status.st_mode), IoError, path, "pass a regular file", "not a regular file");
  size_ = static_cast<std::size_t>(status.st_size);
  if (size_ == 0) return;  // mmap refuses length 0; an empty span is what callers expect
  void* data = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, file.fd, 0);
  LLC_CHECK(data != MAP_FAILED, IoError, path, "", "cannot memory-map {} bytes: {}", size_, std::strerror(errno));
  data_ = data;
}

MappedFile::~MappedFile() {
  if (data_ != nullptr) ::munmap(data_, size_);
}

MappedFile::MappedFile(MappedFile&& other) noexcept
    : path_(std::move(other.path_)), data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}

MappedFile& MappedFile::operator=(MappedFile&& other) noexcept {
  if (this != &other) {
    if (data_ != nullptr) ::munmap(data_, size_);
    path_ = std::move(other.path_);
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

}  // namespace llcpress::formats
