#include "pipeline/mpi_session.h"

#include <mpi.h>

#include "pipeline/check_mpi.h"
#include "core/log.h"

namespace llcpress {

MpiSession::MpiSession() {
  int provided = 0;
  LLC_CHECK_MPI(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided));
  LLC_CHECK_MPI(MPI_Comm_rank(MPI_COMM_WORLD, &rank_));
  LLC_CHECK_MPI(MPI_Comm_size(MPI_COMM_WORLD, &size_));
  spdlog::drop_all();
  init_logging(rank_, size_);
}

MpiSession::~MpiSession() { MPI_Finalize(); }

void MpiSession::barrier() const { LLC_CHECK_MPI(MPI_Barrier(MPI_COMM_WORLD)); }

int MpiSession::broadcast_from_root(int value) const {
  LLC_CHECK_MPI(MPI_Bcast(&value, 1, MPI_INT, 0, MPI_COMM_WORLD));
  return value;
}

void MpiSession::sum_to_root(const int* values, int* totals, int count) const {
  LLC_CHECK_MPI(MPI_Reduce(values, totals, count, MPI_INT, MPI_SUM, 0, MPI_COMM_WORLD));
}

}  // namespace llcpress
