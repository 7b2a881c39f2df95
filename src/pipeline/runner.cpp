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
#include <set>

#include "backend/backend.h"
#include "core/device.h"
#include "core/rng.h"
#include "core/timer.h"
#include "cuda/device_select.h"
#include "formats/atomic_file.h"
#include "io/provenance.h"
#include "io/schema.h"
#include "pipeline/check_mpi.h"
#include "pipeline/run_lock.h"
#include "pipeline/shard_settings.h"
#include "pipeline/stop_signal.h"
#include "pipeline/task_context.h"
#include "pipeline/token_check.h"
#include "slt/llc_estimator.h"

namespace llcpress {

namespace fs = std::filesystem;

const char* shard_state_name(ShardState state) {
  switch (state) {
    case ShardState::Done:
      return "done";
    case ShardState::Stale:
      return "stale";
    case ShardState::Bad:
      return "bad";
    case ShardState::Failed:
      return "failed";
    case ShardState::Missing:
      return "missing";
  }
  return "?";
}

bool shard_needs_run(ShardState state, bool redo_done, bool redo_stale) {
  switch (state) {
    case ShardState::Done:
      return redo_done;
    case ShardState::Stale:
      return redo_stale;
    default:
      return true;
  }
}

std::string shard_error_path(const Plan& plan, int id) {
  return (fs::path(plan.output) / "shards" / fmt::format("{:05}.error.json", id)).string();
}

std::string shard_partial_path(const Plan& plan, int id) {
  return (fs::path(plan.output) / "shards" / fmt::format("{:05}.partial.h5", id)).string();
}

std::string shard_failed_result_path(const Plan& plan, int id) {
  return (fs::path(plan.output) / "shards" / fmt::format("{:05}.failed.h5", id)).string();
}

namespace {

// The settings a shard file was made with: its settings_json record, or, for
// shards written before that record existed, the same settings rebuilt from
// its provenance (the resolved job) and its identity attributes.
nlohmann::json recorded_settings(const io::Group& root, const std::string& path) {
  if (root.has_attribute("settings_json")) {
    nlohmann::json settings = nlohmann::json::parse(root.attribute<std::string>("settings_json"));
    LLC_CHECK(root.has_attribute("settings_sha256") &&
                  root.attribute<std::string>("settings_sha256") == settings_digest(settings),
              IoError, path, "rerun the shard", "the settings record does not match its digest (damaged file)");
    return settings;
  }
  Shard shard;
  shard.id = static_cast<int>(root.attribute<std::int64_t>("shard_id"));
  shard.model = root.attribute<std::string>("model");
  shard.checkpoint = root.attribute<std::string>("checkpoint");
  shard.task = root.attribute<std::string>("task");
  shard.data_prefix = root.attribute<std::string>("data_prefix");
  shard.heldout_prefix = root.attribute<std::string>("heldout_prefix");
  return shard_settings(nlohmann::json::parse(io::read_provenance(root).config_json), shard);
}

}  // namespace

ShardStatus shard_status(const Plan& plan, int id) {
  const Shard& shard = plan.shards.at(id);
  ShardStatus status{id, ShardState::Missing, {}};
  const std::string path = plan.shard_path(id);
  std::error_code ignored;
  if (fs::exists(path, ignored)) {
    try {
      const io::File file = io::File::open_read_only(path);
      const io::Group& root = file.root();
      const std::int64_t version = io::check_schema_version(root);
      LLC_CHECK(shard.task == "llc" || version >= io::sweep_shard_min_version, IoError, path,
                "rerun it: `llcpress run` reruns bad shards (or delete the file)",
                "written with schema_version {}; this build reads sweep shards of schema_version {} or newer only "
                "(version 3 renamed the sweep columns to the results tables' names, docs/hdf5-schema.md): rerun "
                "the shard",
                version, io::sweep_shard_min_version);
      LLC_CHECK(root.has_attribute("kind") && root.attribute<std::string>("kind") == "llcpress-shard", IoError, path,
                "", "not an llcpress shard file");
      LLC_CHECK(root.has_attribute("status") && root.attribute<std::string>("status") == "done", IoError, path, "",
                "the shard file is not marked done");
      // What gather reads: the LLC estimate, or a sweep's two tables.
      LLC_CHECK(shard.task == "llc" ? root.is_dataset("result/llc_mean")
                                    : root.is_group("result/criticals") && root.is_group("result/points"),
                IoError, path, "", "the shard file has no complete result group for task {}", shard.task);
      const nlohmann::json recorded = recorded_settings(root, path);
      const nlohmann::json planned = plan.shard_settings(id);
      if (settings_digest(recorded) == settings_digest(planned)) {
        status.state = ShardState::Done;
      } else {
        status.state = ShardState::Stale;
        status.reason = "made with other settings: " + describe_settings_change(recorded, planned);
      }
    } catch (const Error& error) {
      status.state = ShardState::Bad;
      status.reason = error.message();
    } catch (const std::exception& error) {
      status.state = ShardState::Bad;
      status.reason = error.what();
    }
    return status;
  }
  if (std::ifstream error_file(shard_error_path(plan, id)); error_file.good()) {
    status.state = ShardState::Failed;
    try {
      status.reason = nlohmann::json::parse(error_file).at("error").get<std::string>();
    } catch (const std::exception&) {
      status.reason = "(unreadable error record)";
    }
  }
  return status;
}

std::vector<ShardStatus> shard_statuses(const Plan& plan) {
  std::vector<ShardStatus> statuses;
  statuses.reserve(plan.shards.size());
  for (const auto& shard : plan.shards) statuses.push_back(shard_status(plan, shard.id));
  return statuses;
}

namespace {

// A shard whose result file was written but is not usable (the reason says why).
struct ShardUnusable : std::runtime_error {
  using std::runtime_error::runtime_error;
};

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
  std::set<std::string> token_checks_passed;  // dataset|range|window|vocab checked on this rank
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
  loaded->model =
      GptNeox::from_checkpoint(*loaded->checkpoint, state.job.batch, state.job.seq_len, backend::compute_backend());
  loaded->content_hash = loaded->checkpoint->content_hash();
  loaded->model->hold_reference();  // w*, the model's one copy
  const std::size_t parameters = loaded->model->num_parameters();
  loaded->load_seconds = watch.seconds();
  spdlog::info("loaded {} ({} parameters, sha256 {}…) in {:.1f} s", path, parameters,
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
  // Every token the task can read, checked once (pipeline/token_check.h): the
  // LLC task samples minibatches of the SGLD range, the sweeps evaluate the
  // held-out range.
  {
    const bool llc = shard.task == "llc";
    const formats::MegatronDataset& data = llc ? sgld_data : heldout_data;
    const SequenceRange& range = llc ? job.sgld_sequences : job.eval_sequences;
    const std::int64_t vocab = loaded.model->config().vocab_size;
    const std::string key = fmt::format("{}|{}|{}|{}", data.prefix(), range.to_string(), job.seq_len + 1, vocab);
    if (!state.token_checks_passed.count(key)) {
      check_token_ids(data, range, job.seq_len + 1, vocab, llc ? "data.sgld_sequences" : "data.eval_sequences",
                      (fs::path(state.plan.output) / "cache" / "token_checks").string());
      state.token_checks_passed.insert(key);
    }
  }
  // Every task starts from w*, whatever the previous task on this checkpoint did.
  loaded.model->restore_reference();
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
  root.set_attribute("parameters_total", static_cast<std::int64_t>(loaded.model->num_parameters()));
  root.set_attribute("step", shard.step);
  root.set_attribute("task", shard.task);
  root.set_attribute("data_prefix", shard.data_prefix);
  root.set_attribute("heldout_prefix", shard.heldout_prefix);
  // What the result depends on, as run (pipeline/shard_settings.h): status and
  // gather compare it with the plan.
  const nlohmann::json settings = shard_settings(job.resolved(), shard);
  root.set_attribute("settings_json", settings.dump());
  root.set_attribute("settings_sha256", settings_digest(settings));
  root.set_attribute("job_seed", fmt::format("{}", job.seed));
  root.set_attribute("shard_seed", fmt::format("{}", shard_seed));
  root.set_attribute("rank", static_cast<std::int64_t>(state.rank));
  root.set_attribute("world_size", static_cast<std::int64_t>(state.world));
  root.set_attribute("device", job.device);
  root.set_attribute("precision", job.precision);
  root.set_attribute("compute_backend", backend::compute_backend().description());
  root.set_attribute("threads", static_cast<std::int64_t>(job.threads));
  root.set_attribute("started_utc", started);
  io::Group result = root.create_group("result");
  TaskContext context{job, shard, loaded, sgld_model, heldout_model, result, shard_seed};
  context.partial_path = shard_partial_path(state.plan, shard.id);
  context.rank = state.rank;
  context.host = host_name();
  context.stop_requested = stop_requested;
  kind->run(context);
  root.set_attribute("finished_utc", io::utc_timestamp_now());
  root.set_attribute("wall_seconds", watch.seconds());
  root.set_attribute("checkpoint_load_seconds", loaded.load_seconds);
  // ---- chain-level resume and unusable results (issue 20)
  root.set_attribute("resumed_chains", context.resumed_units);
  root.set_attribute("resumed_steps", context.resumed_steps);
  if (context.resumed_units > 0)
    spdlog::info("shard {}: reused {} finished chains from {} ({} SGLD steps not run again)", shard.id,
                 context.resumed_units, context.partial_path, context.resumed_steps);
  std::error_code ignored;
  if (!context.failure.empty()) {
    // The traces explain the failure: keep them beside the error record, under
    // a name `status` does not count as done.
    root.set_attribute("status", "failed");
    root.set_attribute("failure_reason", context.failure);
    file.commit();
    fs::rename(state.plan.shard_path(shard.id), shard_failed_result_path(state.plan, shard.id));
    fs::remove(context.partial_path, ignored);
    throw ShardUnusable(fmt::format("{} (result kept in {})", context.failure,
                                    fs::path(shard_failed_result_path(state.plan, shard.id)).filename().string()));
  }
  root.set_attribute("status", "done");
  file.commit();
  fs::remove(context.partial_path, ignored);                            // its chains are in the shard now
  fs::remove(shard_failed_result_path(state.plan, shard.id), ignored);  // superseded
  // ---- end issue 20
  fs::remove(shard_error_path(state.plan, shard.id), ignored);  // an earlier failure is now superseded
}

}  // namespace

std::vector<std::string> shards_made_stale_by(const Plan& next) {
  std::vector<std::string> lines;
  std::error_code ignored;
  if (!fs::exists(next.plan_path(), ignored)) return lines;
  Plan current;
  try {
    current = Plan::load(next.output);
  } catch (const Error&) {
    return lines;  // an unreadable plan has no shards to protect; plan writes a good one
  }
  for (const auto& status : shard_statuses(current)) {
    if (status.state != ShardState::Done) continue;
    const Shard& shard = current.shards[status.id];
    const std::string what = fmt::format("shard {} ({} step {} {})", shard.id, shard.model, shard.step, shard.task);
    if (status.id >= static_cast<int>(next.shards.size())) {
      lines.push_back(what + ": no longer in the plan");
      continue;
    }
    const nlohmann::json before = current.shard_settings(status.id), after = next.shard_settings(status.id);
    if (settings_digest(before) != settings_digest(after))
      lines.push_back(what + ": " + describe_settings_change(before, after));
  }
  return lines;
}

void guard_replan(const Plan& next, bool allowed, const std::string& flag) {
  const auto lines = shards_made_stale_by(next);
  if (lines.empty()) return;
  std::string list;
  for (const auto& line : lines) list += "\n  " + line;
  if (!allowed)
    throw ConfigError(fmt::format("{} done shards would go stale under the new plan:{}", lines.size(), list),
                      next.plan_path(),
                      fmt::format("pass {} to rewrite the plan anyway (the old shards are kept, listed as stale and "
                                  "never gathered; `llcpress rerun {} --redo-stale` recomputes them), or plan into "
                                  "another output directory",
                                  flag, next.output));
  spdlog::warn("the new plan makes {} done shards stale (kept, not gathered; rerun with --redo-stale):{}", lines.size(),
               list);
}

namespace {

// Removes what a killed writer of shard `id` left behind; the caller holds the
// shard's claim, so no live process is writing these.
void remove_leftover_temporaries(const Plan& plan, int id) {
  const std::string shard_prefix = Plan::shard_file_name(id) + ".tmp.";
  const std::string record_prefix = fs::path(shard_error_path(plan, id)).filename().string() + ".tmp.";
  const std::string partial_prefix = fs::path(shard_partial_path(plan, id)).filename().string() + ".tmp.";
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(fs::path(plan.output) / "shards", error)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind(shard_prefix, 0) == 0 || name.rfind(record_prefix, 0) == 0 || name.rfind(partial_prefix, 0) == 0)
      fs::remove(entry.path(), error);
  }
}

std::string id_list(const std::vector<int>& ids) {
  std::string text;
  for (int id : ids) {
    if (!text.empty()) text += ',';
    text += std::to_string(id);
  }
  return text;
}

}  // namespace

RunSummary run_plan(const Plan& plan, const RunOptions& options, RunDirectoryLock& lock) {
  // The plan's own resolved job, not the job file: a moved run, or one whose
  // job file was edited after planning, runs what its plan says.
  JobSpec job = plan.job();
  RankState state{plan, job, 0, 1, 0, {}, {}, {}};
  LLC_CHECK_MPI(MPI_Comm_rank(MPI_COMM_WORLD, &state.rank));
  LLC_CHECK_MPI(MPI_Comm_size(MPI_COMM_WORLD, &state.world));
  MPI_Comm node_comm;
  LLC_CHECK_MPI(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, state.rank, MPI_INFO_NULL, &node_comm));
  LLC_CHECK_MPI(MPI_Comm_rank(node_comm, &state.local_rank));
  MPI_Comm_free(&node_comm);
  // Before any work: a missing CUDA build, driver or GPU for this local rank is named here, on every rank.
  // The models of this rank's shards are built on the backend chosen here: with cuda, this local rank's GPU
  // in the job's GEMM precision (one GPU per rank, docs/gpu.md).
  const DeviceInfo device = select_device(parse_device_kind(job.device, "job.device"), state.local_rank, "job.device");
  if (device.kind == DeviceKind::Cuda)
    backend::select_compute_backend("cuda", backend::ComputeSettings{device.ordinal, job.precision});
  spdlog::set_level(spdlog::level::from_str(job.log_level));  // validated by load_job
  spdlog::info("rank {} computes on {}", state.rank, backend::compute_backend().description());
  install_stop_handlers();  // SIGTERM/SIGINT: stop at the next safe point (pipeline/stop_signal.h)
  omp_set_num_threads(job.threads);
  Eigen::setNbThreads(job.threads);

  // Rank 0 decides the work list from the files as they are now and shares it,
  // so every rank agrees even while others already write shards.
  RunSummary summary;
  std::vector<int> work;
  std::exception_ptr failure;
  if (state.rank == 0) try {
      fs::create_directories(fs::path(plan.output) / "shards");
      auto statuses = shard_statuses(plan);
      std::vector<int> candidates = options.only_shards, stale_kept;
      if (candidates.empty())
        for (const auto& shard : plan.shards) candidates.push_back(shard.id);
      for (int id : candidates) {
        LLC_CHECK(id >= 0 && id < static_cast<int>(plan.shards.size()), ConfigError, "--shards",
                  "shard ids are 0..N-1 (see `llcpress status`)", "no shard {}", id);
        if (shard_needs_run(statuses[id].state, options.redo_done, options.redo_stale))
          work.push_back(id);
        else if (statuses[id].state == ShardState::Stale)
          stale_kept.push_back(id);
      }
      summary.shards_stale_kept = static_cast<int>(stale_kept.size());
      if (!stale_kept.empty())
        spdlog::warn(
            "{} shards were made with other settings than the plan and are kept, not gathered (stale): {} (shard {}: "
            "{}); `llcpress rerun {} --redo-stale` recomputes them",
            stale_kept.size(), id_list(stale_kept), stale_kept.front(), statuses[stale_kept.front()].reason,
            plan.output);
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

  const std::int64_t one = 1;
  while (true) {
    if (stop_requested()) {  // between shards: take no more work
      summary.stopped = true;
      spdlog::warn("{} received: taking no more shards", stop_signal_name());
      break;
    }
    std::int64_t next = 0;
    LLC_CHECK_MPI(MPI_Win_lock(MPI_LOCK_SHARED, 0, 0, window));
    LLC_CHECK_MPI(MPI_Fetch_and_op(&one, &next, MPI_INT64_T, 0, 0, MPI_SUM, window));
    LLC_CHECK_MPI(MPI_Win_unlock(0, window));
    if (next >= count) break;
    const Shard& shard = plan.shards[work[next]];
    // The claim keeps another process (a second run, an overlapping array
    // task) off this shard and its temporary files (pipeline/run_lock.h).
    if (!lock.try_claim_shard(shard.id)) {
      ++summary.shards_claimed_elsewhere;
      spdlog::warn("shard {} is being run by another process: skipped", shard.id);
      continue;
    }
    struct Release {
      RunDirectoryLock& lock;
      int id;
      ~Release() { lock.release_shard(id); }
    } release{lock, shard.id};
    remove_leftover_temporaries(plan, shard.id);
    // Another process may have finished it since rank 0 made the list.
    if (const ShardStatus now = shard_status(plan, shard.id);
        !shard_needs_run(now.state, options.redo_done, options.redo_stale)) {
      spdlog::info("shard {} is {} now (finished by another process): skipped", shard.id, shard_state_name(now.state));
      continue;
    } else if (now.state == ShardState::Bad) {
      // Kept for inspection under another name, so that status reports this
      // run's outcome (done, or failed with its reason) rather than the old file.
      const std::string bad = plan.shard_path(shard.id), kept = bad + ".bad";
      std::error_code error;
      fs::rename(bad, kept, error);
      spdlog::warn("shard {}: {} was unreadable ({}); moved to {} and the shard is run again", shard.id, bad,
                   now.reason, kept);
    }
    ++summary.shards_attempted;
    spdlog::info("shard {} ({}/{}): {} step {} {}", shard.id, next + 1, count, shard.model, shard.step, shard.task);
    Stopwatch watch;
    try {
      run_shard(state, shard);
      ++summary.shards_done;
      spdlog::info("shard {} done in {:.1f} s", shard.id, watch.seconds());
    } catch (const slt::LlcStopped& stop) {
      // ---- stopped by SIGTERM/SIGINT inside an LLC shard (issue 20)
      summary.stopped = true;
      spdlog::warn(
          "{} received: shard {} stopped at step {} of chain {}; its {} finished chains are kept in {}, "
          "and `llcpress rerun` continues from them",
          stop_signal_name(), shard.id, stop.step, stop.chain, stop.chains_finished,
          stop.chains_finished > 0 ? shard_partial_path(plan, shard.id) : std::string("(none: nothing to keep)"));
      break;
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
  if (summary.stopped && state.world > 1)
    spdlog::warn("stopped; waiting for the other ranks to finish their shards before exiting");
  LLC_CHECK_MPI(MPI_Win_free(&window));
  return summary;
}

}  // namespace llcpress
