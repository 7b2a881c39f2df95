// Logging through spdlog with the MPI rank as prefix: "[12:00:01 r3/8 info] ...".
#pragma once

#include <spdlog/spdlog.h>

#include <string>

namespace llcpress {

// Call once per process (rank = -1 when not under MPI). Level names as in
// spdlog: trace, debug, info, warn, error, off. LLCPRESS_LOG_LEVEL overrides.
void init_logging(int rank = -1, int world_size = 1, const std::string& level = "info");

}  // namespace llcpress
