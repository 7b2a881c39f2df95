// A job file (INI, read with Boost.Program_options) and its validation.
//
//   [job]      name, output, seed, device (cpu|cuda), precision, threads, log_level
//   [data]     prefix, heldout_prefix, seq_len, sgld_sequences A:B, eval_sequences A:B, batch
//   [models]   model = NAME:PATTERN[,PATTERN...]   (repeatable; glob patterns, e.g. suite/m/step*)
//              data = NAME:PREFIX, heldout = NAME:PREFIX   (optional per-model dataset overrides)
//   [llc]      enabled, and the sampler keys of the LLC task
//   [compress] methods = quant,svd,...   eps = 0.3,0.5,0.7   and per-method sections [compress.<method>]
//
// Every key is known in advance: an unknown or malformed key, a missing file or
// an impossible value is a ConfigError naming the key, before any compute.
// Command-line flags `--section.key=value` override the file. docs/job-spec.md
// lists every key.
#pragma once

#include <boost/program_options.hpp>
#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace llcpress {

namespace po = boost::program_options;

// A half-open range of sequence numbers "A:B".
struct SequenceRange {
  std::int64_t begin = 0, end = 0;
  std::int64_t size() const { return end - begin; }
  static SequenceRange parse(const std::string& text, const std::string& key);
  std::string to_string() const;
};

struct ModelSpec {
  std::string name;
  std::vector<std::string> patterns;
  // The model's datasets: data.prefix / data.heldout_prefix unless the
  // [models] section overrides them for this model (models.data, models.heldout).
  std::string data_prefix, heldout_prefix;
};

// A task kind the pipeline can run on a checkpoint: "llc" or a compression
// method. Each kind declares its INI section's keys (so they are validated
// with the rest of the job) and a validator for cross-key rules.
struct TaskKind {
  std::string name;     // "llc", "quant", "svd", ...
  std::string section;  // INI section holding its keys: "llc" or "compress.<name>"
  std::string summary;
  std::function<void(po::options_description&)> add_options;  // keys as "<section>.<key>"
  std::function<void(const struct JobSpec&)> validate;        // throws ConfigError naming the key
  // Work of one shard of this kind, in token-passes: tokens through a forward
  // pass, a forward+backward counted as 3 (the backward costs about twice the
  // forward). Lets `plan` show the relative cost of tasks.
  std::function<double(const struct JobSpec&)> estimate_token_passes;
  // Runs one shard; writes its results under context.result. Throws on failure.
  std::function<void(struct TaskContext&)> run;
};

// The registered task kinds (pipeline/tasks.cpp fills the table).
const std::vector<TaskKind>& task_kinds();
const TaskKind* find_task_kind(const std::string& name);

struct JobSpec {
  std::string path;  // the job file ("" when built in code)
  std::string name = "job";
  std::string output;  // output directory
  std::uint64_t seed = 0;
  std::string device = "cpu";
  std::string precision = "fp32";  // GEMM compute precision on cuda (fp32 | tf32 | bf16)
  int threads = 1;
  std::string log_level = "info";

  std::string data_prefix;
  std::string heldout_prefix;  // defaults to data_prefix
  int seq_len = 0;
  int batch = 0;  // data.batch: sequences per batch for evaluation and SGLD
  SequenceRange sgld_sequences, eval_sequences;

  std::vector<ModelSpec> models;
  bool llc_enabled = true;
  std::vector<std::string> methods;  // compression task names, in the order given
  std::vector<double> eps;           // compress.eps

  // Every key with its resolved value (defaults included), as read.
  po::variables_map values;
  // Tasks in plan order: "llc" (when enabled) then the methods.
  std::vector<std::string> tasks() const;
  // The resolved configuration, stored in every output. Paths (job.output,
  // data prefixes, model patterns) are made absolute against the current
  // directory, so the record does not depend on where a later command runs.
  nlohmann::json resolved() const;
};

// Every key a job file may hold, with defaults and help text.
po::options_description job_options();

// Reads and validates a job file; `overrides` are command-line tokens
// ("--llc.epsilon=1e-4") that take precedence over the file. Relative paths
// are taken relative to the current directory, as users type them on the
// command line; the plan stores them made absolute, so later stages (run,
// rerun, SLURM array tasks) do not depend on where they are started.
JobSpec load_job(const std::string& path, const std::vector<std::string>& overrides = {});

// Rebuilds a job from its resolved configuration (JobSpec::resolved(), as
// stored in plan.json), without reading the job file: the plan is
// self-contained, so a run directory can be moved, copied or archived away
// from its job file, and editing the job file changes nothing until the job is
// planned again. `where` names the source in errors (e.g. OUT/plan.json).
JobSpec load_job_from_resolved(const nlohmann::json& resolved, const std::string& where);

// Boost converts "-1" to an unsigned option by wrapping it (seed = -1 became
// 18446744073709551615). Throws ConfigError naming the key for any value of an
// unsigned-typed option that is written with a minus sign.
void reject_negative_unsigned(const po::parsed_options& parsed, const std::string& where);

}  // namespace llcpress
