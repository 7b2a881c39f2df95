// Prints the minibatches an `llcpress llc` run draws, as JSON, so a reference
// implementation (bench/slt/devinterp_compare.py) can be fed the same batches:
//   llc_batches seed=S first=A last=B batch=b steps=T init_batches=k [chain=c] [shared=1] [salt=0]
// {"steps": [[...], ...] (T batches of step 0..T-1), "init": [[...], ...] (k L_init batches)}
#include <cstdio>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "slt/llc_estimator.h"
#include "slt/minibatch.h"

using namespace llcpress::slt;

int main(int argc, char** argv) {
  std::map<std::string, std::string> args;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    const auto eq = a.find('=');
    if (eq == std::string::npos) {
      std::fprintf(stderr, "arguments are key=value\n");
      return 2;
    }
    args[a.substr(0, eq)] = a.substr(eq + 1);
  }
  auto get = [&](const char* key, const char* fallback) { return args.count(key) ? args[key] : std::string(fallback); };
  LlcConfig config;
  config.seed = std::stoull(get("seed", "0"));
  config.stream_salt = std::stoull(get("salt", "0"));
  config.shared_batches = get("shared", "1") == "1";
  config.batch_size = std::stoul(get("batch", "16"));
  const SampleRange range{std::stoll(get("first", "0")), std::stoll(get("last", "1"))};
  const int steps = std::stoi(get("steps", "1")), init_batches = std::stoi(get("init_batches", "8"));
  const int chain = std::stoi(get("chain", "0"));
  const MinibatchSampler sampler(range, config.batch_size);
  nlohmann::json out = {{"steps", nlohmann::json::array()}, {"init", nlohmann::json::array()}};
  std::vector<std::int64_t> batch;
  for (int t = 0; t < steps; ++t) {
    sampler.draw(config.seed, batch_stream(config, chain, t), batch);
    out["steps"].push_back(batch);
  }
  const int distinct_init = sampler.full_batch() ? 1 : init_batches;
  for (int b = 0; b < distinct_init; ++b) {
    sampler.draw(config.seed, init_batch_stream(config, b), batch);
    out["init"].push_back(batch);
  }
  std::printf("%s\n", out.dump().c_str());
  return 0;
}
