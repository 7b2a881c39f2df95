#include "pipeline/slurm.h"

#include <spawn.h>
#include <spdlog/spdlog.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "core/check.h"
#include "formats/atomic_file.h"
#include "pipeline/runner.h"
#include "slurm_templates.h"  // generated from slurm/*.sbatch.in at build time

extern char** environ;

namespace llcpress {

namespace fs = std::filesystem;

namespace {

// Control characters end an #SBATCH line (see require_one_line below).
void require_one_line_value(const std::string& text, const std::string& key) {
  for (unsigned char c : text)
    LLC_CHECK(c >= 0x20 && c != 0x7f, ConfigError, key,
              "use a value without newlines or other control characters (SLURM reads one directive per line)",
              "'{}' contains a control character (code {})", text, static_cast<int>(c));
}

}  // namespace

void add_slurm_options(po::options_description& options) {
  // clang-format off
  options.add_options()
    ("slurm.ranks_per_task", po::value<int>()->default_value(1), "MPI ranks (srun -n) per array task")
    ("slurm.cpus_per_task", po::value<int>()->default_value(1), "CPUs per rank (also OMP_NUM_THREADS)")
    ("slurm.gpus_per_task", po::value<int>()->default_value(0), "GPUs per rank (adds --gpus-per-task)")
    ("slurm.array_tasks", po::value<int>()->default_value(0), "array tasks the shards are split into (0: one per shard)")
    ("slurm.time", po::value<std::string>()->default_value("01:00:00"), "time limit of each array task (HH:MM:SS)")
    ("slurm.partition", po::value<std::string>()->default_value(""), "partition (empty: the cluster default)")
    ("slurm.account", po::value<std::string>()->default_value(""), "account to charge (empty: default)")
    ("slurm.extra", po::value<std::string>()->default_value(""), "extra #SBATCH options, ';'-separated, e.g. --qos=long")
    ("slurm.mpi", po::value<std::string>()->default_value("pmix"), "srun --mpi plugin (pmix works with Debian's OpenMPI)");
  // clang-format on
}

SlurmSettings SlurmSettings::from_job(const JobSpec& job) {
  const auto& values = job.values;
  SlurmSettings settings;
  settings.ranks_per_task = values["slurm.ranks_per_task"].as<int>();
  settings.cpus_per_task = values["slurm.cpus_per_task"].as<int>();
  settings.gpus_per_task = values["slurm.gpus_per_task"].as<int>();
  settings.array_tasks = values["slurm.array_tasks"].as<int>();
  settings.time = values["slurm.time"].as<std::string>();
  settings.partition = values["slurm.partition"].as<std::string>();
  settings.account = values["slurm.account"].as<std::string>();
  settings.extra_directives = values["slurm.extra"].as<std::string>();
  settings.mpi = values["slurm.mpi"].as<std::string>();
  LLC_CHECK(settings.ranks_per_task >= 1, ConfigError, "slurm.ranks_per_task", "", "must be >= 1");
  LLC_CHECK(settings.cpus_per_task >= 1, ConfigError, "slurm.cpus_per_task", "", "must be >= 1");
  LLC_CHECK(settings.gpus_per_task >= 0, ConfigError, "slurm.gpus_per_task", "", "must be >= 0");
  LLC_CHECK(settings.array_tasks >= 0, ConfigError, "slurm.array_tasks", "", "must be >= 0");
  LLC_CHECK(std::regex_match(settings.time, std::regex(R"((\d+-)?\d+(:\d\d){0,2})")), ConfigError, "slurm.time",
            "e.g. 01:00:00 or 2-00:00:00", "'{}' is not a SLURM time", settings.time);
  return settings;
}

nlohmann::json Submission::to_json() const {
  return {{"array_job_id", array_job_id},
          {"gather_job_id", gather_job_id},
          {"list_file", list_file},
          {"array_script", array_script},
          {"gather_script", gather_script},
          {"task_shards", task_shards},
          {"dry_run", dry_run}};
}

std::string run_command(const std::vector<std::string>& arguments) {
  LLC_REQUIRE(!arguments.empty());
  int out_pipe[2], err_pipe[2];
  LLC_CHECK(pipe(out_pipe) == 0 && pipe(err_pipe) == 0, IoError, arguments[0], "", "pipe() failed");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err_pipe[1], 2);
  posix_spawn_file_actions_addclose(&actions, out_pipe[0]);
  posix_spawn_file_actions_addclose(&actions, err_pipe[0]);
  std::vector<char*> argv;
  for (const auto& argument : arguments) argv.push_back(const_cast<char*>(argument.c_str()));
  argv.push_back(nullptr);
  pid_t pid = 0;
  int spawn_status = posix_spawnp(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(out_pipe[1]);
  close(err_pipe[1]);
  auto drain = [](int fd) {
    std::string text;
    char buffer[4096];
    ssize_t got;
    while ((got = read(fd, buffer, sizeof buffer)) > 0) text.append(buffer, got);
    close(fd);
    return text;
  };
  // Small outputs only (sbatch, scontrol): reading stdout fully before stderr cannot deadlock here.
  std::string output = drain(out_pipe[0]), errors = drain(err_pipe[0]);
  LLC_CHECK(spawn_status == 0, BackendError, arguments[0], "is SLURM installed and on PATH?", "cannot run: {}",
            std::strerror(spawn_status));
  int status = 0;
  waitpid(pid, &status, 0);
  std::string command_line;
  for (const auto& argument : arguments) command_line += (command_line.empty() ? "" : " ") + argument;
  LLC_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, BackendError, command_line,
            "check the SLURM settings in the job file ([slurm] keys) and that slurmctld is reachable",
            "failed (status {}): {}", WIFEXITED(status) ? WEXITSTATUS(status) : -1, errors);
  return output;
}

std::string shell_quote(const std::string& text) {
  std::string quoted = "'";
  for (char c : text) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

std::string sbatch_directive_value(const std::string& text, const std::string& key) {
  require_one_line_value(text, key);
  std::string escaped;
  for (char c : text) {
    const bool plain = std::isalnum(static_cast<unsigned char>(c)) || std::strchr("._/%:=,+@-", c) != nullptr;
    if (!plain) escaped += '\\';
    escaped += c;
  }
  return escaped;
}

namespace {

// One pass over the template: an inserted value is never scanned again, so a
// path containing "@MPI@" stays a path (re-scanning would splice another
// quoted word into it and break its quoting).
std::string substitute(const std::string& text, const std::map<std::string, std::string>& values) {
  std::string out;
  std::size_t at = 0;
  while (at < text.size()) {
    const auto open = text.find('@', at);
    const auto close = open == std::string::npos ? std::string::npos : text.find('@', open + 1);
    if (close == std::string::npos) {
      out.append(text, at, std::string::npos);
      break;
    }
    const auto found = values.find(text.substr(open + 1, close - open - 1));
    if (found == values.end()) {  // not a placeholder: keep the '@' and go on after it
      out.append(text, at, open + 1 - at);
      at = open + 1;
      continue;
    }
    out.append(text, at, open - at);
    out += found->second;
    at = close + 1;
  }
  return out;
}

void write_text(const std::string& path, const std::string& text, bool executable = false) {
  formats::AtomicFileWriter writer(path);
  writer.write(text.data(), text.size());
  writer.commit();
  if (executable) fs::permissions(path, fs::perms::owner_exec | fs::perms::group_exec, fs::perm_options::add);
}

std::string trim(std::string text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
  return text;
}

// An #SBATCH line is a comment to the shell; sbatch reads it, and a line ends
// at a newline. A value with a control character could end the line and put
// the rest into the script body as shell code: refused.
void require_one_line(const std::string& text, const std::string& key) { require_one_line_value(text, key); }

std::string directives(const SlurmSettings& settings, bool with_gpus) {
  std::string lines;
  if (!settings.partition.empty())
    lines += "#SBATCH --partition=" + sbatch_directive_value(settings.partition, "slurm.partition") + "\n";
  if (!settings.account.empty())
    lines += "#SBATCH --account=" + sbatch_directive_value(settings.account, "slurm.account") + "\n";
  if (with_gpus && settings.gpus_per_task > 0)
    lines += fmt::format("#SBATCH --gpus-per-task={}\n", settings.gpus_per_task);
  // slurm.extra holds directives as the user writes them (their own quoting);
  // only the line structure is enforced.
  require_one_line(settings.extra_directives, "slurm.extra");
  std::stringstream extra(settings.extra_directives);
  std::string option;
  while (std::getline(extra, option, ';'))
    if (!trim(option).empty()) lines += "#SBATCH " + trim(option) + "\n";
  return lines;
}

// A log file pattern under OUT/slurm/logs: a literal '%' of the path is
// doubled, as sbatch expands %A, %a, %j in --output.
std::string log_pattern(const std::string& output, const std::string& file_pattern) {
  std::string escaped;
  for (char c : output) escaped += c == '%' ? std::string("%%") : std::string(1, c);
  return escaped + "/slurm/logs/" + file_pattern;
}

nlohmann::json read_submissions(const std::string& path) {
  std::ifstream file(path);
  if (!file.good()) return nlohmann::json::array();
  try {
    return nlohmann::json::parse(file);
  } catch (const nlohmann::json::exception& error) {
    throw InputError(fmt::format("not valid JSON: {}", error.what()), path,
                     "the record of SLURM submissions is damaged; fix or remove it");
  }
}

}  // namespace

Submission submit_to_slurm(const Plan& plan, const std::vector<int>& shard_ids, const SlurmSettings& settings,
                           const std::string& llcpress_executable, bool dry_run) {
  LLC_CHECK(!shard_ids.empty(), InputError, plan.output, "`llcpress status` shows what is left", "no shards to submit");
  const fs::path slurm_dir = fs::path(plan.output) / "slurm";
  fs::create_directories(slurm_dir / "logs");
  const std::string record_path = (slurm_dir / "submissions.json").string();
  nlohmann::json record = read_submissions(record_path);
  const std::size_t number = record.size();

  // Contiguous slices keep consecutive shards of one checkpoint on one task,
  // so a rank loads each checkpoint once.
  Submission submission;
  submission.dry_run = dry_run;
  std::size_t tasks =
      settings.array_tasks > 0 ? std::min<std::size_t>(settings.array_tasks, shard_ids.size()) : shard_ids.size();
  for (std::size_t task = 0; task < tasks; ++task) {
    std::size_t begin = task * shard_ids.size() / tasks, end = (task + 1) * shard_ids.size() / tasks;
    submission.task_shards.emplace_back(shard_ids.begin() + begin, shard_ids.begin() + end);
  }
  submission.list_file = (slurm_dir / fmt::format("submission{:03}.list", number)).string();
  std::string list_text;
  for (const auto& shards : submission.task_shards) {
    std::string line;
    for (int id : shards) line += (line.empty() ? "" : ",") + std::to_string(id);
    list_text += line + "\n";
  }

  const JobSpec job = plan.job();
  // Every value is quoted for where it lands (finding 5 of issue 20): shell
  // words for the script body, escaped values for #SBATCH lines.
  std::map<std::string, std::string> values = {
      {"JOB_NAME", sbatch_directive_value(job.name, "job.name")},
      {"GATHER_JOB_NAME", sbatch_directive_value(job.name + "-gather", "job.name")},
      {"LOG_PATTERN", sbatch_directive_value(log_pattern(plan.output, "%A_%a.out"), "job.output")},
      {"GATHER_LOG_PATTERN", sbatch_directive_value(log_pattern(plan.output, "gather_%j.out"), "job.output")},
      {"OUTPUT", shell_quote(plan.output)},
      {"RANKS", std::to_string(settings.ranks_per_task)},
      {"CPUS_PER_TASK", std::to_string(settings.cpus_per_task)},
      {"TIME", settings.time},  // validated against a pattern of digits, '-' and ':'
      {"EXTRA_DIRECTIVES", directives(settings, true)},
      {"GATHER_DIRECTIVES", directives(settings, false)},
      {"LIST_FILE", shell_quote(submission.list_file)},
      {"MPI", shell_quote(settings.mpi)},
      {"LLCPRESS", shell_quote(fs::absolute(llcpress_executable).string())},
  };
  // Written only once every value has been quoted (a refused value writes nothing).
  write_text(submission.list_file, list_text);
  submission.array_script = (slurm_dir / fmt::format("submission{:03}_array.sbatch", number)).string();
  submission.gather_script = (slurm_dir / fmt::format("submission{:03}_gather.sbatch", number)).string();
  write_text(submission.array_script, substitute(kArrayTemplate, values), true);
  write_text(submission.gather_script, substitute(kGatherTemplate, values), true);

  if (!dry_run) {
    submission.array_job_id =
        trim(run_command({"sbatch", "--parsable", fmt::format("--array=0-{}", tasks - 1), submission.array_script}));
    submission.array_job_id = submission.array_job_id.substr(0, submission.array_job_id.find(';'));
    submission.gather_job_id = trim(run_command(
        {"sbatch", "--parsable", "--dependency=afterok:" + submission.array_job_id, submission.gather_script}));
    submission.gather_job_id = submission.gather_job_id.substr(0, submission.gather_job_id.find(';'));
  }
  record.push_back(submission.to_json());
  write_text(record_path, record.dump(2) + "\n");
  return submission;
}

std::vector<JobCompletion> read_job_completions(const std::string& path) {
  std::ifstream file(path);
  LLC_CHECK(file.good(), InputError, path,
            "rerun --slurm needs JobCompType=jobcomp/filetxt; pass --completion-log if JobCompLoc is elsewhere",
            "cannot read SLURM's job-completion log");
  static const std::regex pair(R"((\w+)=(\S*))");
  std::vector<JobCompletion> completions;
  std::string line;
  while (std::getline(file, line)) {
    std::map<std::string, std::string> fields;
    for (std::sregex_iterator it(line.begin(), line.end(), pair), end; it != end; ++it) fields[(*it)[1]] = (*it)[2];
    if (!fields.count("JobId")) continue;
    completions.push_back(
        {fields["JobId"], fields["ArrayJobId"], fields["ArrayTaskId"], fields["JobState"], fields["ExitCode"]});
  }
  return completions;
}

std::string job_completion_log_path() {
  std::string config = run_command({"scontrol", "show", "config"});
  static const std::regex location(R"(JobCompLoc\s*=\s*(\S+))");
  std::smatch match;
  LLC_CHECK(std::regex_search(config, match, location), BackendError, "scontrol show config",
            "set JobCompType=jobcomp/filetxt and JobCompLoc in slurm.conf", "no JobCompLoc configured");
  return match[1];
}

RerunDecision decide_slurm_rerun(const Plan& plan, const std::string& completion_log, bool redo_stale) {
  RerunDecision decision;
  const std::string record_path = (fs::path(plan.output) / "slurm" / "submissions.json").string();
  nlohmann::json record = read_submissions(record_path);
  LLC_CHECK(!record.empty(), InputError, record_path, "submit with `llcpress submit JOB.ini` first",
            "no SLURM submissions recorded for {}", plan.output);
  auto completions = read_job_completions(completion_log);
  std::map<std::pair<std::string, std::string>, JobCompletion> by_array_task;
  std::map<std::string, JobCompletion> by_job;
  for (const auto& completion : completions) {
    if (!completion.array_job_id.empty() && completion.array_job_id != "4294967294")
      by_array_task[{completion.array_job_id, completion.array_task_id}] = completion;
    by_job[completion.job_id] = completion;
  }
  auto statuses = shard_statuses(plan);
  std::set<int> unfinished_in_flight;
  for (const auto& submission : record) {
    if (submission.value("dry_run", false)) continue;
    std::string array_job = submission.at("array_job_id");
    auto task_shards = submission.at("task_shards").get<std::vector<std::vector<int>>>();
    bool array_failed = false;
    for (std::size_t task = 0; task < task_shards.size(); ++task) {
      auto found = by_array_task.find({array_job, std::to_string(task)});
      if (found == by_array_task.end()) {
        // Not in the completion log: still pending or running (or lost). Its
        // shards are not resubmitted while they may still finish.
        for (int id : task_shards[task])
          if (statuses[id].state != ShardState::Done) unfinished_in_flight.insert(id);
        continue;
      }
      // A later submission may have finished these shards; the files decide.
      for (int id : task_shards[task]) unfinished_in_flight.erase(id);
      if (found->second.state != "COMPLETED") array_failed = true;
      if (found->second.state != "COMPLETED")
        decision.explanations.push_back(fmt::format("array task {}_{} ended {} (exit {}) running shards {}", array_job,
                                                    task, found->second.state, found->second.exit_code,
                                                    nlohmann::json(task_shards[task]).dump()));
    }
    std::string gather_job = submission.value("gather_job_id", "");
    // A gather that never ran behind a failed array waits forever (afterok).
    if (array_failed && !gather_job.empty() && !by_job.count(gather_job))
      decision.stale_gather_jobs.push_back(gather_job);
  }
  for (const auto& status : statuses) {
    if (!shard_needs_run(status.state, false, redo_stale)) {
      if (status.state == ShardState::Stale)
        decision.explanations.push_back(
            fmt::format("shard {} stale ({}): not resubmitted without --redo-stale", status.id, status.reason));
      continue;
    }
    if (unfinished_in_flight.count(status.id)) {
      decision.explanations.push_back(
          fmt::format("shard {} is in an array task that has not finished yet: not resubmitted", status.id));
      continue;
    }
    decision.shards.push_back(status.id);
    decision.explanations.push_back(fmt::format("shard {} {}{}", status.id, shard_state_name(status.state),
                                                status.reason.empty() ? "" : ": " + status.reason));
  }
  return decision;
}

}  // namespace llcpress
