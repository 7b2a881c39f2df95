#include "pipeline/run_lock.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/check.h"
#include "io/provenance.h"

namespace llcpress {

namespace {

std::string host_name() {
  char buffer[256] = {};
  gethostname(buffer, sizeof buffer - 1);
  return buffer;
}

// A one-byte OFD lock at `offset`; returns 0, or the errno of a refusal.
int set_lock(int fd, short type, off_t offset) {
  struct flock lock {};
  lock.l_type = type;
  lock.l_whence = SEEK_SET;
  lock.l_start = offset;
  lock.l_len = 1;
  lock.l_pid = 0;  // required by F_OFD_*
  return fcntl(fd, F_OFD_SETLK, &lock) == 0 ? 0 : errno;
}

bool is_conflict(int error) { return error == EAGAIN || error == EACCES; }

// The type of a lock at `offset` that conflicts with `type` (F_UNLCK if none).
short conflicting_type(int fd, short type, off_t offset) {
  struct flock lock {};
  lock.l_type = type;
  lock.l_whence = SEEK_SET;
  lock.l_start = offset;
  lock.l_len = 1;
  lock.l_pid = 0;
  if (fcntl(fd, F_OFD_GETLK, &lock) != 0) return F_UNLCK;
  return lock.l_type;
}

std::string read_record(int fd) {
  std::string text(4096, '\0');
  ssize_t got = pread(fd, text.data(), text.size(), 0);
  text.resize(got > 0 ? static_cast<std::size_t>(got) : 0);
  try {
    auto record = nlohmann::json::parse(text);
    return fmt::format("`llcpress {}` (pid {} on host {}, since {})", record.value("command", "run"),
                       record.value("pid", -1), record.value("host", std::string("?")),
                       record.value("started_utc", std::string("?")));
  } catch (const nlohmann::json::exception&) {
    return "another llcpress process";
  }
}

}  // namespace

RunDirectoryLock::RunDirectoryLock(const std::string& output)
    : path_((std::filesystem::path(output) / ".llcpress.lock").string()) {
  fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  LLC_CHECK(fd_ >= 0, IoError, path_, "check that the run directory exists and is writable",
            "cannot open the run directory's lock file: {}", std::strerror(errno));
}

RunDirectoryLock::~RunDirectoryLock() {
  if (fd_ >= 0) ::close(fd_);
}

void RunDirectoryLock::lock_directory(bool exclusive, const std::string& command) {
  const short type = exclusive ? F_WRLCK : F_RDLCK;
  const int error = set_lock(fd_, type, 0);
  if (error != 0 && !is_conflict(error)) {
    supported_ = false;
    spdlog::warn("{}: this file system refuses locks ({}); two runs in this directory would not be kept apart", path_,
                 std::strerror(error));
    return;
  }
  if (error != 0) {
    const short holder = conflicting_type(fd_, type, 0);
    const std::string who =
        holder == F_RDLCK ? "one or more `llcpress run --shards` processes (SLURM array tasks?)" : read_record(fd_);
    LLC_THROW(IoError, std::filesystem::path(path_).parent_path().string(),
              "wait for it to finish (or stop it), or run into another output directory",
              "the run directory is in use by {}", who);
  }
  if (exclusive) {
    const nlohmann::json record = {{"command", command},
                                   {"pid", static_cast<long>(::getpid())},
                                   {"host", host_name()},
                                   {"started_utc", io::utc_timestamp_now()}};
    const std::string text = record.dump() + "\n";
    // Best effort: the record only makes the refusal message of another run precise.
    const bool written =
        ::ftruncate(fd_, 0) == 0 && ::pwrite(fd_, text.data(), text.size(), 0) == static_cast<ssize_t>(text.size());
    if (!written) spdlog::debug("could not write the holder record into {}", path_);
  }
}

bool RunDirectoryLock::try_claim_shard(int id) {
  if (!supported_) return true;
  const int error = set_lock(fd_, F_WRLCK, 1 + static_cast<off_t>(id));
  if (error == 0) return true;
  if (is_conflict(error)) return false;
  supported_ = false;
  spdlog::warn("{}: this file system refuses locks ({}); shards are not claimed", path_, std::strerror(error));
  return true;
}

void RunDirectoryLock::release_shard(int id) {
  if (supported_) set_lock(fd_, F_UNLCK, 1 + static_cast<off_t>(id));
}

}  // namespace llcpress
