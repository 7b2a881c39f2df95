#include "pipeline/runner.h"

#include <mpi.h>
#include <omp.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <Eigen/Core>
#include <exception>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "core/check_mpi.h"
#include "core/rng.h"
#include "core/timer.h"
#include "formats/atomic_file.h"
#include "io/provenance.h"
#include "pipeline/task_context.h"

namespace llcpress {

namespace fs = std::filesystem;

const char* shard_state_name(ShardState state) {
  switch (state) {
    case ShardState::Done:
      return "done";
    case ShardState::Failed:
      return "failed";
    case ShardState::Missing:
      return "missing";
  }
  return "?";
}

std::string shard_error_path(const Plan& plan, int id) {
  return (fs::path(plan.output) / "shards" / fmt::format("{:05}.error.json", id)).string();
}

std::vector<ShardStatus> shard_statuses(const Plan& plan) {
  std::vector<ShardStatus> statuses;
  statuses.reserve(plan.shards.size());
  for (const auto& shard : plan.shards) {
    ShardStatus status{shard.id, ShardState::Missing, {}};
    if (fs::exists(plan.shard_path(shard.id))) {
      status.state = ShardState::Done;
    } else if (std::ifstream error_file(shard_error_path(plan, shard.id)); error_file.good()) {
      status.state = ShardState::Failed;
      try {
        status.reason = nlohmann::json::parse(error_file).at("error").get<std::string>();
      } catch (const std::exception&) {
        status.reason = "(unreadable error record)";
      }
    }
    statuses.push_back(std::move(status));
  }
  return statuses;
}

namespace {

std::string host_name() {
  char buffer[256] = {};
  gethostname(buffer, sizeof buffer - 1);
  return buffer;
}

// Everything a rank keeps between shards: the datasets (opened once) and the
// last checkpoint (reloaded only when the next shard is on another one).
struct RankState {
  const Plan& plan;
  const JobSpec& job;
  int rank = 0, world = 1, local_rank = 0;
  std::map<std::string, std::unique_ptr<formats::MegatronDataset>> datasets;  // by prefix, opened once
  std::unique_ptr<LoadedCheckpoint> loaded;
};

LoadedCheckpoint& load_checkpoint(RankState& state, const std::string& path) {
  if (state.loaded && state.loaded->path == path) return *state.loaded;
  state.loaded.reset();  // free the previous model before allocating the next
  Stopwatch watch;
  auto loaded = std::make_unique<LoadedCheckpoint>();
  loaded->path = path;
  loaded->checkpoint = std::make_unique<formats::Checkpoint>(formats::Checkpoint::open(path));
  LLC_CHECK(loaded->checkpoint->has_config(), InputError, path,
            "a checkpoint directory needs config.json next to the weights", "no config.json");
  loaded->model = GptNeox::from_checkpoint(*loaded->checkpoint, state.job.batch, state.job.seq_len);
  loaded->content_hash = loaded->checkpoint->content_hash();
  auto parameters = loaded->model->parameters();
  loaded->reference_parameters.assign(parameters.begin(), parameters.end());
  loaded->load_seconds = watch.seconds();
  spdlog::info("loaded {} ({} parameters, sha256 {}…) in {:.1f} s", path, parameters.size(),
               loaded->content_hash.substr(0, 12), loaded->load_seconds);
  state.loaded = std::move(loaded);
  return *state.loaded;
}

void write_error_record(const Plan& plan, const Shard& shard, const RankState& state, const std::string& error) {
  nlohmann::json record = {{"shard", shard.id},  {"model", shard.model}, {"checkpoint", shard.checkpoint},
                           {"step", shard.step}, {"task", shard.task},   {"error", error},
                           {"rank", state.rank}, {"host", host_name()},  {"time_utc", io::utc_timestamp_now()}};
  std::string text = record.dump(2) + "\n";
  formats::AtomicFileWriter writer(shard_error_path(plan, shard.id));
  writer.write(text.data(), text.size());
  writer.commit();
}

void run_shard(RankState& state, const Shard& shard) {
  const JobSpec& job = state.job;
  const TaskKind* kind = find_task_kind(shard.task);
  LLC_CHECK(kind != nullptr && kind->run, ConfigError, "plan.json",
            "the plan was written by another llcpress version: re-run `llcpress plan`", "unknown task '{}'",
            shard.task);
  Stopwatch watch;
  std::string started = io::utc_timestamp_now();
  auto dataset = [&state](const std::string& prefix) -> const formats::MegatronDataset& {
    auto& slot = state.datasets[prefix];
    if (!slot) slot = std::make_unique<formats::MegatronDataset>(formats::MegatronDataset::open(prefix));
    return *slot;
  };
  const formats::MegatronDataset& sgld_data = dataset(shard.data_prefix);
  const formats::MegatronDataset& heldout_data = dataset(shard.heldout_prefix);
  LoadedCheckpoint& loaded = load_checkpoint(state, shard.checkpoint);
  // Every task starts from w*, whatever the previous task on this checkpoint did.
  std::copy(loaded.reference_parameters.begin(), loaded.reference_parameters.end(), loaded.model->parameters().begin());
  NeoxLossModel sgld_model(*loaded.model, sgld_data, job.seq_len);
  NeoxLossModel heldout_model(*loaded.model, heldout_data, job.seq_len);

  io::File file = io::File::create_atomic(state.plan.shard_path(shard.id));
  io::Group& root = file.root();
  io::write_provenance(root, job.resolved().dump());
  const std::uint64_t shard_seed = stream_id(job.seed, static_cast<std::uint64_t>(shard.id));
  root.set_attribute("kind", "llcpress-shard");
  root.set_attribute("shard_id", static_cast<std::int64_t>(shard.id));
  root.set_attribute("model", shard.model);
  root.set_attribute("checkpoint", shard.checkpoint);
  root.set_attribute("checkpoint_sha256", loaded.content_hash);
  root.set_attribute("checkpoint_format", loaded.checkpoint->weights_format());
  root.set_attribute("num_parameters", static_cast<std::int64_t>(loaded.model->num_parameters()));
  root.set_attribute("step", shard.step);
  root.set_attribute("task", shard.task);
  root.set_attribute("data_prefix", shard.data_prefix);
  root.set_attribute("heldout_prefix", shard.heldout_prefix);
  root.set_attribute("job_seed", fmt::format("{}", job.seed));
  root.set_attribute("shard_seed", fmt::format("{}", shard_seed));
  root.set_attribute("rank", static_cast<std::int64_t>(state.rank));
  root.set_attribute("world_size", static_cast<std::int64_t>(state.world));
  root.set_attribute("device", job.device);
  root.set_attribute("threads", static_cast<std::int64_t>(job.threads));
  root.set_attribute("started_utc", started);
  io::Group result = root.create_group("result");
  TaskContext context{job, shard, loaded, sgld_model, heldout_model, result, shard_seed};
  kind->run(context);
  root.set_attribute("finished_utc", io::utc_timestamp_now());
  root.set_attribute("wall_seconds", watch.seconds());
  root.set_attribute("checkpoint_load_seconds", loaded.load_seconds);
  root.set_attribute("status", "done");
  file.commit();
  std::error_code ignored;
  fs::remove(shard_error_path(state.plan, shard.id), ignored);  // an earlier failure is now superseded
}

}  // namespace

RunSummary run_plan(const Plan& plan, const RunOptions& options) {
  JobSpec job = load_job(plan.job_path, plan.overrides);
  RankState state{plan, job, 0, 1, 0, {}, {}};  // every member named: -Wmissing-field-initializers
  LLC_CHECK_MPI(MPI_Comm_rank(MPI_COMM_WORLD, &state.rank));
  LLC_CHECK_MPI(MPI_Comm_size(MPI_COMM_WORLD, &state.world));
  MPI_Comm node_comm;
  LLC_CHECK_MPI(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, state.rank, MPI_INFO_NULL, &node_comm));
  LLC_CHECK_MPI(MPI_Comm_rank(node_comm, &state.local_rank));
  MPI_Comm_free(&node_comm);
  LLC_CHECK(job.device == "cpu", ConfigError, "job.device",
            "this build runs the model on the CPU only; set device = cpu (the CUDA model backend is issue #9)",
            "device '{}' is not available", job.device);
  spdlog::set_level(spdlog::level::from_str(job.log_level));  // validated by load_job
  omp_set_num_threads(job.threads);
  Eigen::setNbThreads(job.threads);

  // Rank 0 decides the work list from the files as they are now and shares it,
  // so every rank agrees even while others already write shards.
  std::vector<int> work;
  std::exception_ptr failure;
  if (state.rank == 0) try {
      fs::create_directories(fs::path(plan.output) / "shards");
      // Temporaries are left only by a killed run; no run on this output is active now.
      for (const auto& entry : fs::directory_iterator(fs::path(plan.output) / "shards"))
        if (io::is_atomic_temporary(entry.path()) || entry.path().string().find(".tmp.") != std::string::npos)
          fs::remove(entry.path());
      auto statuses = shard_statuses(plan);
      if (!options.only_shards.empty()) {
        for (int id : options.only_shards) {
          LLC_CHECK(id >= 0 && id < static_cast<int>(plan.shards.size()), ConfigError, "--shards",
                    "shard ids are 0..N-1 (see `llcpress status`)", "no shard {}", id);
          if (options.redo_done || statuses[id].state != ShardState::Done) work.push_back(id);
        }
      } else {
        for (const auto& status : statuses)
          if (options.redo_done || status.state != ShardState::Done) work.push_back(status.id);
      }
    } catch (...) {
      failure = std::current_exception();
    }
  // A bad --shards list fails on rank 0 only: every rank learns of it here.
  int failed = failure ? 1 : 0;
  LLC_CHECK_MPI(MPI_Bcast(&failed, 1, MPI_INT, 0, MPI_COMM_WORLD));
  if (failed) {
    if (failure) std::rethrow_exception(failure);
    throw ConfigError("rank 0 rejected the shard list", "--shards", "rank 0 printed the reason");
  }
  int count = static_cast<int>(work.size());
  LLC_CHECK_MPI(MPI_Bcast(&count, 1, MPI_INT, 0, MPI_COMM_WORLD));
  work.resize(count);
  LLC_CHECK_MPI(MPI_Bcast(work.data(), count, MPI_INT, 0, MPI_COMM_WORLD));
  if (state.rank == 0)
    spdlog::info("{} shards to run on {} ranks ({} in the plan)", count, state.world, plan.shards.size());

  // The shared counter lives on rank 0; every rank takes work from it.
  std::int64_t* counter = nullptr;
  MPI_Win window;
  LLC_CHECK_MPI(MPI_Win_allocate(state.rank == 0 ? sizeof(std::int64_t) : 0, sizeof(std::int64_t), MPI_INFO_NULL,
                                 MPI_COMM_WORLD, &counter, &window));
  if (state.rank == 0) {
    LLC_CHECK_MPI(MPI_Win_lock(MPI_LOCK_EXCLUSIVE, 0, 0, window));
    *counter = 0;
    LLC_CHECK_MPI(MPI_Win_unlock(0, window));
  }
  LLC_CHECK_MPI(MPI_Barrier(MPI_COMM_WORLD));

  RunSummary summary;
  const std::int64_t one = 1;
  while (true) {
    std::int64_t next = 0;
    LLC_CHECK_MPI(MPI_Win_lock(MPI_LOCK_SHARED, 0, 0, window));
    LLC_CHECK_MPI(MPI_Fetch_and_op(&one, &next, MPI_INT64_T, 0, 0, MPI_SUM, window));
    LLC_CHECK_MPI(MPI_Win_unlock(0, window));
    if (next >= count) break;
    const Shard& shard = plan.shards[work[next]];
    ++summary.shards_attempted;
    spdlog::info("shard {} ({}/{}): {} step {} {}", shard.id, next + 1, count, shard.model, shard.step, shard.task);
    Stopwatch watch;
    try {
      run_shard(state, shard);
      ++summary.shards_done;
      spdlog::info("shard {} done in {:.1f} s", shard.id, watch.seconds());
    } catch (const std::exception& error) {
      ++summary.shards_failed;
      spdlog::error("shard {} failed: {}", shard.id, error.what());
      try {
        write_error_record(plan, shard, state, error.what());
      } catch (const std::exception& record_error) {
        spdlog::error("could not record the failure of shard {}: {}", shard.id, record_error.what());
      }
    }
  }
  LLC_CHECK_MPI(MPI_Win_free(&window));
  return summary;
}

}  // namespace llcpress
