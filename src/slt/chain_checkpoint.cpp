#include "slt/chain_checkpoint.h"

#include <fmt/format.h>

#include "io/hdf5.h"
#include "io/provenance.h"

namespace llcpress::slt {

namespace {

struct VectorMember {
  const char* name;
  std::vector<double> ChainResult::*member;
};

// Every per-step and per-draw trace of a chain, stored bit for bit.
const VectorMember kVectors[] = {
    {"step_loss", &ChainResult::step_loss},
    {"draw_loss", &ChainResult::draw_loss},
    {"distance", &ChainResult::distance},
    {"gradient_norm", &ChainResult::gradient_norm},
    {"drift_gradient_norm", &ChainResult::drift_gradient_norm},
    {"drift_localization_norm", &ChainResult::drift_localization_norm},
    {"drift_weight_decay_norm", &ChainResult::drift_weight_decay_norm},
    {"noise_norm", &ChainResult::noise_norm},
    {"mala_log_ratio", &ChainResult::mala_log_ratio},
    {"mala_acceptance", &ChainResult::mala_acceptance},
};

struct DoubleMember {
  const char* name;
  double ChainResult::*member;
};

const DoubleMember kDoubles[] = {
    {"llc", &ChainResult::llc},
    {"mean_draw_loss", &ChainResult::mean_draw_loss},
    {"fraction_below_init", &ChainResult::fraction_below_init},
    {"mean_mala_acceptance", &ChainResult::mean_mala_acceptance},
    {"seconds", &ChainResult::seconds},
    {"model_seconds", &ChainResult::model_seconds},
    {"sampler_seconds", &ChainResult::sampler_seconds},
    {"batch_seconds", &ChainResult::batch_seconds},
};

}  // namespace

void write_chain_checkpoint(const std::filesystem::path& path, const ChainCheckpointInfo& info,
                            const std::vector<ChainResult>& chains) {
  io::File file = io::File::create_atomic(path);
  io::Group& root = file.root();
  root.set_attribute("kind", "llcpress-chain-checkpoint");
  root.set_attribute("key", info.key);
  root.set_attribute("written_utc", io::utc_timestamp_now());
  root.set_attribute("host", info.host);
  root.set_attribute("pid", info.pid);
  root.set_attribute("rank", info.rank);
  root.set_attribute("chains_finished", static_cast<std::int64_t>(chains.size()));
  io::Group group = root.create_group("chains");
  for (const ChainResult& chain : chains) {
    io::Group c = group.create_group(std::to_string(chain.chain));
    for (const auto& vector : kVectors) c.write<double>(vector.name, chain.*vector.member);
    for (const auto& scalar : kDoubles) c.set_attribute(scalar.name, chain.*scalar.member);
    c.set_attribute("chain", static_cast<std::int64_t>(chain.chain));
    c.set_attribute("diverged", static_cast<std::int64_t>(chain.diverged));
    c.set_attribute("diverged_at_step", chain.diverged_at_step);
    c.set_attribute("divergence_reason", chain.divergence_reason);
    c.set_attribute("steps_run", chain.steps_run);
    c.set_attribute("clamped", static_cast<std::int64_t>(chain.clamped));
    c.set_attribute("healthy", static_cast<std::int64_t>(chain.healthy));
    c.set_attribute("health_problems", static_cast<std::int64_t>(chain.health_problems));
    c.set_attribute("health_reason", chain.health_reason);
    c.set_attribute("stationarity_checked", static_cast<std::int64_t>(chain.stationarity.checked));
    c.set_attribute("stationarity_middle_mean", chain.stationarity.middle_mean);
    c.set_attribute("stationarity_last_mean", chain.stationarity.last_mean);
    c.set_attribute("stationarity_middle_standard_error", chain.stationarity.middle_standard_error);
    c.set_attribute("stationarity_last_standard_error", chain.stationarity.last_standard_error);
    c.set_attribute("stationarity_z", chain.stationarity.z);
  }
  file.commit();
}

LoadedChains read_chain_checkpoint(const std::filesystem::path& path, const std::string& key) {
  LoadedChains loaded;
  std::error_code error;
  if (!std::filesystem::exists(path, error)) return loaded;
  try {
    const io::File file = io::File::open_read_only(path);
    const io::Group& root = file.root();
    if (root.attribute<std::string>("kind") != "llcpress-chain-checkpoint") {
      loaded.ignored_because = "not a chain checkpoint";
      return loaded;
    }
    if (root.attribute<std::string>("key") != key) {
      loaded.ignored_because = "written for other settings or another checkpoint";
      return loaded;
    }
    const io::Group group = root.open_group("chains");
    for (const std::string& name : group.children()) {
      const io::Group c = group.open_group(name);
      ChainResult chain;
      for (const auto& vector : kVectors) chain.*vector.member = c.read_vector<double>(vector.name);
      for (const auto& scalar : kDoubles) chain.*scalar.member = c.attribute<double>(scalar.name);
      chain.chain = static_cast<int>(c.attribute<std::int64_t>("chain"));
      chain.diverged = c.attribute<std::int64_t>("diverged") != 0;
      chain.diverged_at_step = c.attribute<std::int64_t>("diverged_at_step");
      chain.divergence_reason = c.attribute<std::string>("divergence_reason");
      chain.steps_run = c.attribute<std::int64_t>("steps_run");
      chain.clamped = static_cast<std::size_t>(c.attribute<std::int64_t>("clamped"));
      chain.healthy = c.attribute<std::int64_t>("healthy") != 0;
      chain.health_problems = static_cast<unsigned>(c.attribute<std::int64_t>("health_problems"));
      chain.health_reason = c.attribute<std::string>("health_reason");
      chain.stationarity.checked = c.attribute<std::int64_t>("stationarity_checked") != 0;
      chain.stationarity.middle_mean = c.attribute<double>("stationarity_middle_mean");
      chain.stationarity.last_mean = c.attribute<double>("stationarity_last_mean");
      chain.stationarity.middle_standard_error = c.attribute<double>("stationarity_middle_standard_error");
      chain.stationarity.last_standard_error = c.attribute<double>("stationarity_last_standard_error");
      chain.stationarity.z = c.attribute<double>("stationarity_z");
      loaded.chains.push_back(std::move(chain));
    }
  } catch (const std::exception& failure) {
    loaded.chains.clear();
    loaded.ignored_because = fmt::format("unreadable ({})", failure.what());
  }
  return loaded;
}

}  // namespace llcpress::slt
