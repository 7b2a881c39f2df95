#include "pipeline/plan.h"

#include <glob.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <regex>

#include "core/check.h"
#include "formats/atomic_file.h"
#include "formats/megatron.h"
#include "pipeline/shard_settings.h"

namespace llcpress {

namespace fs = std::filesystem;

std::int64_t step_from_path(const std::string& path) {
  static const std::regex step_pattern(R"(^step(\d+)$)");
  std::int64_t step = -1;
  for (const auto& component : fs::path(path)) {
    std::smatch match;
    std::string text = component.string();
    if (std::regex_match(text, match, step_pattern)) step = std::stoll(match[1]);
  }
  return step;
}

std::string Plan::shard_file_name(int id) { return fmt::format("{:05}.h5", id); }

std::string Plan::shard_path(int id) const { return (fs::path(output) / "shards" / shard_file_name(id)).string(); }

std::string Plan::plan_path() const { return (fs::path(output) / "plan.json").string(); }

JobSpec Plan::job() const {
  JobSpec job = load_job_from_resolved(job_resolved, plan_path());
  job.output = output;
  return job;
}

nlohmann::json Plan::shard_settings(int id) const { return llcpress::shard_settings(job_resolved, shards.at(id)); }

std::string Plan::shard_settings_digest(int id) const { return settings_digest(shard_settings(id)); }

nlohmann::json Plan::to_json() const {
  nlohmann::json shard_list = nlohmann::json::array();
  for (const auto& shard : shards)
    shard_list.push_back({{"id", shard.id},
                          {"model", shard.model},
                          {"checkpoint", shard.checkpoint},
                          {"step", shard.step},
                          {"task", shard.task},
                          {"data_prefix", shard.data_prefix},
                          {"heldout_prefix", shard.heldout_prefix},
                          {"file", "shards/" + shard_file_name(shard.id)},
                          {"settings_sha256", shard_settings_digest(shard.id)}});
  // "output" records where the plan was written; load() ignores it (a moved
  // run is found where it is) and file paths are relative to the run.
  return {{"plan_version", 1},      {"job_path", job_path}, {"output", output},
          {"overrides", overrides}, {"job", job_resolved},  {"estimated_token_passes", estimated_token_passes},
          {"shards", shard_list}};
}

Plan Plan::from_json(const nlohmann::json& json, const std::string& where) {
  Plan plan;
  try {
    LLC_CHECK(json.at("plan_version").get<int>() == 1, InputError, where, "re-run `llcpress plan`",
              "unsupported plan_version {}", json.at("plan_version").dump());
    plan.job_path = json.at("job_path").get<std::string>();
    plan.output = json.at("output").get<std::string>();
    plan.overrides = json.at("overrides").get<std::vector<std::string>>();
    plan.job_resolved = json.at("job");
    plan.estimated_token_passes = json.at("estimated_token_passes").get<double>();
    for (const auto& entry : json.at("shards")) {
      Shard shard;
      shard.id = entry.at("id").get<int>();
      shard.model = entry.at("model").get<std::string>();
      shard.checkpoint = entry.at("checkpoint").get<std::string>();
      shard.step = entry.at("step").get<std::int64_t>();
      shard.task = entry.at("task").get<std::string>();
      shard.data_prefix = entry.at("data_prefix").get<std::string>();
      shard.heldout_prefix = entry.at("heldout_prefix").get<std::string>();
      LLC_CHECK(shard.id == static_cast<int>(plan.shards.size()), InputError, where, "re-run `llcpress plan`",
                "shard ids are not 0..N-1 in order (found {} at position {})", shard.id, plan.shards.size());
      plan.shards.push_back(std::move(shard));
    }
  } catch (const nlohmann::json::exception& error) {
    throw InputError(fmt::format("malformed plan: {}", error.what()), where, "re-run `llcpress plan JOB.ini`");
  }
  return plan;
}

Plan Plan::load(const std::string& output_directory) {
  std::string path = (fs::path(output_directory) / "plan.json").string();
  std::ifstream file(path);
  LLC_CHECK(file.good(), InputError, path, "run `llcpress plan JOB.ini` first", "no plan in {}", output_directory);
  nlohmann::json json;
  try {
    json = nlohmann::json::parse(file);
  } catch (const nlohmann::json::exception& error) {
    throw InputError(fmt::format("plan.json is not valid JSON: {}", error.what()), path,
                     "re-run `llcpress plan JOB.ini`");
  }
  Plan plan = from_json(json, path);
  // The run is where it was found, not where it was planned: a moved or copied
  // run directory works on itself and never touches the original.
  fs::path directory = fs::absolute(output_directory).lexically_normal();
  if (!directory.has_filename()) directory = directory.parent_path();  // "out/run/"
  plan.output = directory.string();
  return plan;
}

void Plan::save() const {
  fs::create_directories(fs::path(output) / "shards");
  std::string text = to_json().dump(2) + "\n";
  formats::AtomicFileWriter writer((fs::path(output) / "plan.json").string());
  writer.write(text.data(), text.size());
  writer.commit();
}

namespace {

std::vector<std::string> expand_pattern(const std::string& pattern, const std::string& model) {
  glob_t matches{};
  int status = glob(pattern.c_str(), GLOB_NOSORT, nullptr, &matches);
  std::vector<std::string> paths;
  if (status == 0)
    for (std::size_t i = 0; i < matches.gl_pathc; ++i) paths.emplace_back(matches.gl_pathv[i]);
  globfree(&matches);
  LLC_CHECK(!paths.empty(), ConfigError, "models.model",
            "check the path; patterns are shell globs relative to the current directory",
            "pattern '{}' of model '{}' matches no checkpoint", pattern, model);
  return paths;
}

void check_range(const SequenceRange& range, const std::string& prefix, const std::string& key, int seq_len) {
  auto dataset = formats::MegatronDataset::open(prefix);
  LLC_CHECK(static_cast<std::size_t>(range.end) <= dataset.num_sequences(), ConfigError, key,
            "choose a range inside the dataset", "{} asks for sequences up to {} but {} has {}", range.to_string(),
            range.end, prefix, dataset.num_sequences());
  for (std::int64_t i = range.begin; i < range.end; ++i)
    LLC_CHECK(dataset.sequence_length(i) >= seq_len + 1, ConfigError, key,
              "lower data.seq_len or choose longer sequences",
              "sequence {} of {} has {} tokens, fewer than data.seq_len + 1 = {}", i, prefix,
              dataset.sequence_length(i), seq_len + 1);
}

}  // namespace

Plan make_plan(const JobSpec& job, const std::vector<std::string>& overrides) {
  for (const auto& model : job.models) {
    check_range(job.sgld_sequences, model.data_prefix, "data.sgld_sequences", job.seq_len);
    check_range(job.eval_sequences, model.heldout_prefix, "data.eval_sequences", job.seq_len);
  }

  Plan plan;
  plan.job_path = fs::absolute(job.path).lexically_normal().string();
  plan.output = fs::absolute(job.output).lexically_normal().string();
  plan.overrides = overrides;
  plan.job_resolved = job.resolved();
  const auto tasks = job.tasks();
  double passes_per_checkpoint = 0;
  for (const auto& task : tasks) {
    const TaskKind* kind = find_task_kind(task);
    if (kind && kind->estimate_token_passes) passes_per_checkpoint += kind->estimate_token_passes(job);
  }
  for (const auto& model : job.models) {
    std::vector<std::string> checkpoints;
    for (const auto& pattern : model.patterns)
      for (auto& path : expand_pattern(pattern, model.name))
        checkpoints.push_back(fs::absolute(path).lexically_normal().string());
    std::sort(checkpoints.begin(), checkpoints.end(), [](const std::string& a, const std::string& b) {
      auto step_a = step_from_path(a), step_b = step_from_path(b);
      return step_a != step_b ? step_a < step_b : a < b;
    });
    checkpoints.erase(std::unique(checkpoints.begin(), checkpoints.end()), checkpoints.end());
    const std::string data = fs::absolute(model.data_prefix).lexically_normal().string();
    const std::string heldout = fs::absolute(model.heldout_prefix).lexically_normal().string();
    for (const auto& checkpoint : checkpoints) {
      for (const auto& task : tasks)
        plan.shards.push_back({static_cast<int>(plan.shards.size()), model.name, checkpoint, step_from_path(checkpoint),
                               task, data, heldout});
      plan.estimated_token_passes += passes_per_checkpoint;
    }
  }
  return plan;
}

}  // namespace llcpress
