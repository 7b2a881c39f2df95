// Advisory locks that keep two llcpress processes from working on the same
// run directory or the same shard (OUT/.llcpress.lock).
//
// The locks are open-file-description byte-range locks (fcntl F_OFD_SETLK) on
// one file: byte 0 is the directory lock, byte 1 + id the claim of shard id.
//   - A `run`/`rerun` over the whole plan holds byte 0 exclusively; a run
//     restricted to --shards (a SLURM array task) holds it shared, so array
//     tasks run side by side but never beside a whole-plan run.
//   - Every rank claims a shard (exclusive, non-blocking) before running it, so
//     two processes never compute the same shard or delete each other's
//     temporary files; a claimed shard's leftover temporaries belong to a dead
//     writer and are removed.
// The kernel drops a lock when its holder exits or is killed (on NFS the
// server does when the client's lease ends), so a crashed run leaves no stale
// lock behind: its record in the file is only reported while the lock is held.
// The exclusive holder writes host, pid, command and start time into the file,
// and the refusal message quotes it.
#pragma once

#include <string>

namespace llcpress {

class RunDirectoryLock {
 public:
  // Opens (creates) OUT/.llcpress.lock; OUT must exist.
  explicit RunDirectoryLock(const std::string& output);
  ~RunDirectoryLock();  // closing the file releases every lock held through it
  RunDirectoryLock(const RunDirectoryLock&) = delete;
  RunDirectoryLock& operator=(const RunDirectoryLock&) = delete;

  // Takes the directory lock (exclusive: the whole plan; shared: --shards).
  // Throws IoError naming the holder when another process holds a conflicting
  // lock. A file system without lock support is reported as a warning once
  // and the run goes on unprotected (supported() is then false).
  void lock_directory(bool exclusive, const std::string& command);
  // Claims shard `id` for this process; false when another process holds it.
  bool try_claim_shard(int id);
  void release_shard(int id);
  bool supported() const { return supported_; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  int fd_ = -1;
  bool supported_ = true;
};

}  // namespace llcpress
