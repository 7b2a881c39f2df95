#include "core/log.h"

#include <spdlog/sinks/stdout_color_sinks.h>

#include <cstdlib>

#include "core/error.h"

namespace llcpress {

void init_logging(int rank, int world_size, const std::string& level) {
  set_process_rank(rank);
  // Logs go to stderr so that stdout stays clean for --json output.
  auto logger = spdlog::stderr_color_mt("llcpress");
  std::string prefix = rank >= 0 ? fmt::format(" r{}/{}", rank, world_size) : std::string();
  logger->set_pattern("[%H:%M:%S" + prefix + " %^%l%$] %v");
  std::string chosen = level;
  if (const char* env = std::getenv("LLCPRESS_LOG_LEVEL")) chosen = env;
  logger->set_level(spdlog::level::from_str(chosen));
  spdlog::set_default_logger(logger);
}

}  // namespace llcpress
