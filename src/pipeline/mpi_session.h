// MPI for the CLI without MPI headers outside src/pipeline: initialise and
// finalise (RAII), rank and size, and the few collectives the commands need.
#pragma once

#include <string>

namespace llcpress {

class MpiSession {
 public:
  MpiSession();   // MPI_Init_thread(FUNNELED); sets the rank used in logs and errors
  ~MpiSession();  // MPI_Finalize
  MpiSession(const MpiSession&) = delete;
  MpiSession& operator=(const MpiSession&) = delete;

  int rank() const { return rank_; }
  int size() const { return size_; }
  void barrier() const;
  int broadcast_from_root(int value) const;
  void sum_to_root(const int* values, int* totals, int count) const;

 private:
  int rank_ = 0, size_ = 1;
};

}  // namespace llcpress
