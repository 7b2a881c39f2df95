// End-to-end tests of the distributed pipeline: they run the llcpress binary
// under mpiexec on a tiny suite (made by the CTest fixture
// pipeline_make_suite) and compare the HDF5 outputs dataset by dataset.
//
// Registered one test per CTest entry (tests/pipeline/CMakeLists.txt) with
// the fixture, label "pipeline;mpi". Comparisons are exact (bit for bit):
// every shard's numbers are a function of the job, the checkpoint and the
// shard seed only, and each rank runs one thread.
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "io/hdf5.h"

extern char** environ;

namespace {

namespace fs = std::filesystem;
namespace io = llcpress::io;

const fs::path kWork = LLCPRESS_PIPELINE_TEST_DIR;
const fs::path kSuite = kWork / "suite";
const std::string kExe = LLCPRESS_EXE;
const std::string kMpiexec = LLCPRESS_MPIEXEC;

std::string read_text(const fs::path& path) {
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

// Runs a shell command with stdout+stderr into `log`; returns the exit status.
int run(const std::string& command, const fs::path& log) {
  const std::string line = command + " > '" + log.string() + "' 2>&1";
  const int status = std::system(line.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::string mpirun(int ranks, const std::string& arguments) {
  return "OMP_NUM_THREADS=1 " + kMpiexec + " -n " + std::to_string(ranks) + " --oversubscribe " + kExe + " " +
         arguments;
}

// The tiny job every test starts from; `extra` is appended (INI sections).
// Two models × two checkpoints × (llc + four methods) = 20 shards.
std::string tiny_job(const fs::path& output, const std::string& models) {
  std::ostringstream job;
  job << "[job]\nname = tiny\noutput = " << output.string() << "\nseed = 7\nthreads = 1\n"
      << "[data]\nprefix = " << (kSuite / "data/train").string()
      << "\nheldout_prefix = " << (kSuite / "data/heldout").string()
      << "\nseq_len = 16\nbatch = 4\nsgld_sequences = 0:64\n"
      << "eval_sequences = 0:8\n"
      << "[models]\n"
      << models << "[llc]\nchains = 2\ndraws = 8\ninit_batches = 2\n"
      << "[compress]\nmethods = quant,svd,noise,prune\neps = 0.01,0.03,0.1\n"
      << "[compress.quant]\nclip_search_evaluations = 3\n[compress.noise]\nnoise_draws = 2\n";
  return job.str();
}

std::string suite_models() {
  std::string text;
  for (const auto& entry : fs::directory_iterator(kSuite)) {
    const std::string name = entry.path().filename().string();
    if (entry.is_directory() && name.rfind("demo-", 0) == 0)
      text +=
          "model = " + name + ":" + (entry.path() / "step0").string() + "," + (entry.path() / "step4").string() + "\n";
  }
  return text;
}

fs::path write_job(const fs::path& directory, const std::string& text) {
  fs::create_directories(directory);
  const fs::path path = directory / "job.ini";
  std::ofstream(path) << text;
  return path;
}

bool is_timing(const std::string& name) {
  return name.find("seconds") != std::string::npos || name == "steps_per_second";
}

// Every dataset under `a` equals the one under `b` (same names, shapes,
// types, values bit for bit), timings excepted. Returns the number compared.
int expect_same_datasets(const io::Group& a, const io::Group& b, const std::string& what) {
  int compared = 0;
  const auto children = a.children();
  EXPECT_EQ(children, b.children()) << what << a.path();
  for (const auto& name : children) {
    if (is_timing(name) || !b.exists(name)) continue;
    if (a.is_group(name)) {
      compared += expect_same_datasets(a.open_group(name), b.open_group(name), what);
      continue;
    }
    const io::Dataset x = a.open_dataset(name), y = b.open_dataset(name);
    const std::string where = what + x.path();
    EXPECT_EQ(x.shape(), y.shape()) << where;
    EXPECT_EQ(x.element_type(), y.element_type()) << where;
    const std::string type = x.element_type();
    if (type == "string") {
      EXPECT_EQ(x.read<std::string>().values, y.read<std::string>().values) << where;
    } else if (type.rfind("float", 0) == 0) {
      const auto u = x.read<double>().values, v = y.read<double>().values;
      // Bit-for-bit, NaN included: compare the representations.
      EXPECT_TRUE(u.size() == v.size() && std::memcmp(u.data(), v.data(), u.size() * sizeof(double)) == 0) << where;
    } else {
      EXPECT_EQ(x.read<std::int64_t>().values, y.read<std::int64_t>().values) << where;
    }
    ++compared;
  }
  return compared;
}

// The finished shard files of a run: not the temporaries of a writer, and not the chain checkpoints
// (<id>.partial.h5) an LLC shard keeps while it runs (a rank killed between two chains leaves one).
std::vector<fs::path> shard_files(const fs::path& output) {
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(output / "shards")) {
    const std::string name = entry.path().filename().string();
    if (entry.path().extension() == ".h5" && name.find(".tmp.") == std::string::npos &&
        name.find(".partial.") == std::string::npos)
      files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

// The shards of two runs hold the same results; returns the ranks that wrote `b`'s.
std::set<std::int64_t> expect_same_shards(const fs::path& a, const fs::path& b) {
  std::set<std::int64_t> ranks;
  const auto files_a = shard_files(a), files_b = shard_files(b);
  EXPECT_EQ(files_a.size(), files_b.size());
  for (std::size_t i = 0; i < std::min(files_a.size(), files_b.size()); ++i) {
    EXPECT_EQ(files_a[i].filename(), files_b[i].filename());
    const io::File x = io::File::open_read_only(files_a[i]), y = io::File::open_read_only(files_b[i]);
    for (const char* attribute : {"model", "task", "checkpoint", "checkpoint_sha256", "shard_seed", "status"})
      EXPECT_EQ(x.root().attribute<std::string>(attribute), y.root().attribute<std::string>(attribute))
          << files_b[i] << " " << attribute;
    EXPECT_GT(expect_same_datasets(x.root().open_group("result"), y.root().open_group("result"),
                                   files_b[i].filename().string()),
              5);
    ranks.insert(y.root().attribute<std::int64_t>("rank"));
  }
  return ranks;
}

nlohmann::json status_json(const fs::path& output, int* exit_code = nullptr) {
  const fs::path log = output.parent_path() / (output.filename().string() + ".status.json");
  const int code = run(kExe + " status " + output.string() + " --json", log);
  if (exit_code) *exit_code = code;
  return nlohmann::json::parse(read_text(log));
}

int count_state(const nlohmann::json& status, const std::string& state) { return status["totals"][state].get<int>(); }

// ---------------------------------------------------------------------------

TEST(Pipeline, SameResultsWithOneTwoAndThreeRanks) {
  const fs::path dir = kWork / "ranks";
  fs::remove_all(dir);
  const fs::path job = write_job(dir, tiny_job(dir / "unused", suite_models()));
  for (int ranks : {1, 2, 3}) {
    const fs::path out = dir / ("out" + std::to_string(ranks));
    ASSERT_EQ(0, run(mpirun(ranks, "run " + job.string() + " --job.output=" + out.string()),
                     dir / ("run" + std::to_string(ranks) + ".log")))
        << read_text(dir / ("run" + std::to_string(ranks) + ".log"));
    const auto status = status_json(out);
    EXPECT_EQ(count_state(status, "done"), 20);
  }
  const auto ranks1 = expect_same_shards(dir / "out1", dir / "out1");
  EXPECT_EQ(ranks1, (std::set<std::int64_t>{0}));
  // The identity is meaningful only if the shards were spread over the ranks.
  EXPECT_EQ(expect_same_shards(dir / "out1", dir / "out2").size(), 2u);
  EXPECT_EQ(expect_same_shards(dir / "out1", dir / "out3").size(), 3u);

  // A pipeline shard equals the single-checkpoint commands with the same keys
  // and the shard's seed (recorded as the shard_seed attribute).
  const auto plan = nlohmann::json::parse(read_text(dir / "out1/plan.json"));
  std::string llc_shard, quant_shard;
  for (const auto& shard : plan["shards"]) {
    if (llc_shard.empty() && shard["task"] == "llc") llc_shard = shard["file"];
    if (quant_shard.empty() && shard["task"] == "quant") quant_shard = shard["file"];
  }
  ASSERT_FALSE(llc_shard.empty());
  ASSERT_FALSE(quant_shard.empty());
  // Runs `llcpress <command_line> --seed <shard seed> --checkpoint <shard checkpoint> --out FILE` and compares
  // FILE's `command_group` with the shard's result.
  auto expect_command_equals_shard = [&](const std::string& shard_file, const std::string& name,
                                         const std::string& command_line, const std::string& command_group) {
    const io::File shard = io::File::open_read_only(dir / "out1" / shard_file);
    const std::string seed = shard.root().attribute<std::string>("shard_seed");
    const std::string checkpoint = shard.root().attribute<std::string>("checkpoint");
    const fs::path out = dir / (name + "_command.h5"), log = dir / (name + "_command.log");
    ASSERT_EQ(0, run("OMP_NUM_THREADS=1 " + kExe + " " + command_line + " --checkpoint " + checkpoint + " --seed " +
                         seed + " --out " + out.string(),
                     log))
        << read_text(log);
    const io::File command = io::File::open_read_only(out);
    EXPECT_GT(expect_same_datasets(command.root().open_group(command_group), shard.root().open_group("result"),
                                   name + " vs shard"),
              5);
  };
  expect_command_equals_shard(llc_shard, "llc",
                              "llc --data " + (kSuite / "data/train").string() +
                                  " --seq-len 16 --sequences 0:64 --batch 4 --chains 2 --draws 8 --init-batches 2"
                                  " --threads 1",
                              "llc");
  expect_command_equals_shard(quant_shard, "sweep",
                              "sweep --method quant --data " + (kSuite / "data/heldout").string() +
                                  " --seq-len 16 --sequences 0:8 --batch 4 --eps 0.01,0.03,0.1"
                                  " --clip-search-evaluations 3 --threads 1",
                              "result");
}

// Descendant processes of `pid` named llcpress (the ranks under mpiexec).
std::vector<pid_t> llcpress_descendants(pid_t pid) {
  std::vector<pid_t> found, frontier{pid};
  while (!frontier.empty()) {
    const pid_t parent = frontier.back();
    frontier.pop_back();
    std::error_code error;
    for (const auto& task : fs::directory_iterator("/proc/" + std::to_string(parent) + "/task", error)) {
      std::ifstream children(task.path() / "children");
      pid_t child = 0;
      while (children >> child) {
        frontier.push_back(child);
        if (read_text("/proc/" + std::to_string(child) + "/comm").rfind("llcpress", 0) == 0) found.push_back(child);
      }
    }
  }
  return found;
}

std::vector<std::string> table_names() { return {"llc", "critical", "curves"}; }

// The gathered tables of two runs are equal, timing and rank columns excepted.
void expect_same_tables(const fs::path& a, const fs::path& b, std::size_t shards = 20) {
  const io::File x = io::File::open_read_only(a), y = io::File::open_read_only(b);
  for (const auto& table : table_names()) {
    const io::Group u = x.root().open_group("tables/" + table), v = y.root().open_group("tables/" + table);
    EXPECT_GT(u.attribute<std::int64_t>("num_rows"), 0) << table;
    EXPECT_GT(expect_same_datasets(u, v, "tables/" + table), 10);
  }
  // /shards/<id> are external links to the shard files (compared file by file
  // by expect_same_shards); here: every link resolves to a shard's result.
  const auto links = x.root().open_group("shards").children();
  EXPECT_EQ(links, y.root().open_group("shards").children());
  EXPECT_EQ(links.size(), shards);
  for (const auto& name : links) {
    EXPECT_TRUE(x.root().is_group("shards/" + name + "/result")) << a << " " << name;
    EXPECT_TRUE(y.root().is_group("shards/" + name + "/result")) << b << " " << name;
  }
}

TEST(Pipeline, KilledRankLosesNoFinishedShardAndRerunCompletes) {
  const fs::path dir = kWork / "kill";
  fs::remove_all(dir);
  const fs::path job = write_job(dir, tiny_job(dir / "unused", suite_models()));
  const fs::path reference = dir / "reference", killed = dir / "killed";
  ASSERT_EQ(0, run(mpirun(2, "run " + job.string() +
                                 " --llc.draws=20 --llc.steps_between_draws=100 --job.output=" + reference.string()),
                   dir / "reference.log"))
      << read_text(dir / "reference.log");
  ASSERT_EQ(0, run(kExe + " gather " + reference.string(), dir / "gather_reference.log"))
      << read_text(dir / "gather_reference.log");

  // Start the run in the background and kill -9 one rank once a few shards are done.
  // The LLC shards get 2000 steps per chain (20 draws, 100 steps apart) so that
  // each takes long enough (~1 s) that the surviving rank cannot finish the
  // remaining ones while mpiexec tears the job down; at 200 steps the faster
  // model let it complete all 20 shards first. 20 draws, not 2000 at one step
  // apart: the test is about killed ranks, and with 2000 draws the stationarity
  // rule (docs/llc.md, "Chain health") can fail a shard of these barely trained
  // checkpoints (it did: a chain 5.4 standard errors lower in its last third).
  const std::string command =
      "exec env " +
      mpirun(2,
             "run " + job.string() + " --llc.draws=20 --llc.steps_between_draws=100 --job.output=" + killed.string()) +
      " > '" + (dir / "killed.log").string() + "' 2>&1";
  const char* argv[] = {"/bin/sh", "-c", command.c_str(), nullptr};
  pid_t mpiexec = 0;
  ASSERT_EQ(0, posix_spawn(&mpiexec, "/bin/sh", nullptr, nullptr, const_cast<char**>(argv), environ));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  std::size_t done_before_kill = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    if (fs::exists(killed / "shards")) done_before_kill = shard_files(killed).size();
    if (done_before_kill >= 3) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_GE(done_before_kill, 3u) << read_text(dir / "killed.log");
  const auto ranks = llcpress_descendants(mpiexec);
  ASSERT_EQ(ranks.size(), 2u) << "expected the two ranks under mpiexec";
  ASSERT_EQ(0, kill(ranks.back(), SIGKILL));
  int wait_status = 0;
  ASSERT_EQ(mpiexec, waitpid(mpiexec, &wait_status, 0));
  EXPECT_FALSE(WIFEXITED(wait_status) && WEXITSTATUS(wait_status) == 0) << "mpiexec must report the killed rank";

  // Every shard file present is complete and equals the reference; some are missing.
  int status_code = 0;
  const auto status = status_json(killed, &status_code);
  EXPECT_EQ(status_code, 3);
  const int done = count_state(status, "done"), missing = count_state(status, "missing");
  EXPECT_GE(done, static_cast<int>(done_before_kill));
  EXPECT_GT(missing, 0) << "the kill came too late to test anything";
  EXPECT_EQ(done + missing + count_state(status, "failed"), 20);
  for (const auto& path : shard_files(killed)) {
    const io::File x = io::File::open_read_only(path),
                   y = io::File::open_read_only(reference / "shards" / path.filename());
    EXPECT_EQ(x.root().attribute<std::string>("status"), "done");
    expect_same_datasets(x.root().open_group("result"), y.root().open_group("result"), path.string());
  }
  // `status` names the missing shards.
  ASSERT_EQ(3, run(kExe + " status " + killed.string(), dir / "status.txt"));
  const std::string status_text = read_text(dir / "status.txt");
  for (const auto& shard : status["shards"]) {
    if (shard["state"] == "missing") {
      EXPECT_NE(status_text.find(std::to_string(shard["id"].get<int>()) + "  missing"), std::string::npos)
          << status_text;
    }
  }

  ASSERT_EQ(0, run(mpirun(2, "rerun " + killed.string()), dir / "rerun.log")) << read_text(dir / "rerun.log");
  const auto after = status_json(killed);
  EXPECT_EQ(count_state(after, "done"), 20);
  // No temporary file of the killed writer is left behind.
  for (const auto& entry : fs::directory_iterator(killed / "shards"))
    EXPECT_EQ(entry.path().filename().string().find(".tmp."), std::string::npos) << entry.path();
  expect_same_shards(reference, killed);
  ASSERT_EQ(0, run(kExe + " gather " + killed.string(), dir / "gather_killed.log"))
      << read_text(dir / "gather_killed.log");
  expect_same_tables(reference / "results.h5", killed / "results.h5");
}

// "00003" + suffix: a shard file name.
std::string fmt_id(int id, const std::string& suffix) {
  std::string digits = std::to_string(id);
  return std::string(5 - std::min<std::size_t>(5, digits.size()), '0') + digits + suffix;
}

// The first OUT/shards/<id>.partial.h5 to appear (a finished chain of a
// running LLC shard) and the pid of the rank that wrote it; waits up to 60 s.
std::pair<fs::path, pid_t> wait_for_partial(const fs::path& output) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    std::error_code error;
    for (const auto& entry : fs::directory_iterator(output / "shards", error)) {
      const std::string name = entry.path().filename().string();
      if (name.size() > 11 && name.substr(name.size() - 11) == ".partial.h5") {
        // Written under a temporary name and renamed: a visible file is complete.
        const io::File file = io::File::open_read_only(entry.path());
        return {entry.path(), static_cast<pid_t>(file.root().attribute<std::int64_t>("pid"))};
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return {};
}

// The job of the stop/resume test: the smaller model (two checkpoints), llc +
// quant. The LLC shards run 3 chains of 1500 steps (a fraction of a second per
// chain on an idle core, seconds on a loaded one) so that a signal sent when
// the first chain's checkpoint appears reaches the rank while a later chain runs.
constexpr int kStopSteps = 1500;  // 15 draws, 100 steps apart: under the stationarity rule's 300 draws
std::string stop_job(const fs::path& output) {
  std::string model;
  for (const auto& entry : fs::directory_iterator(kSuite))
    if (entry.is_directory() && entry.path().filename().string().rfind("demo-", 0) == 0 &&
        (model.empty() || fs::file_size(entry.path() / "step0/model.safetensors") <
                              fs::file_size(fs::path(model) / "step0/model.safetensors")))
      model = entry.path().string();
  std::string text = tiny_job(output, "model = m:" + model + "/step0," + model + "/step4\n");
  auto replace = [&text](const std::string& from, const std::string& to) {
    text.replace(text.find(from), from.size(), to);
  };
  replace("chains = 2\ndraws = 8", "chains = 3\ndraws = 15\nsteps_between_draws = 100");
  replace("methods = quant,svd,noise,prune", "methods = quant");
  return text;
}

// Issue 20: SIGTERM (what SLURM sends at the time limit) of the rank running
// an LLC shard stops it between two SGLD steps, keeps the shard's finished
// chains and exits non-zero; rerun reuses them and the gathered tables equal
// an uninterrupted run's. kill -9 loses only the running chain: rerun reuses
// the checkpointed ones and the tables are again identical.
TEST(Pipeline, StoppedRankResumesFinishedChains) {
  const fs::path dir = kWork / "stop";
  fs::remove_all(dir);
  const fs::path job = write_job(dir, stop_job(dir / "unused"));
  const fs::path reference = dir / "reference";
  ASSERT_EQ(0, run(mpirun(2, "run " + job.string() + " --job.output=" + reference.string()), dir / "reference.log"))
      << read_text(dir / "reference.log");
  ASSERT_EQ(0, run(kExe + " gather " + reference.string(), dir / "gather_reference.log"))
      << read_text(dir / "gather_reference.log");

  for (const int signal_number : {SIGTERM, SIGKILL}) {
    const std::string name = signal_number == SIGTERM ? "sigterm" : "sigkill";
    const fs::path out = dir / name, log = dir / (name + ".log");
    const std::string command = "exec env " + mpirun(2, "run " + job.string() + " --job.output=" + out.string()) +
                                " > '" + log.string() + "' 2>&1";
    const char* argv[] = {"/bin/sh", "-c", command.c_str(), nullptr};
    pid_t mpiexec = 0;
    ASSERT_EQ(0, posix_spawn(&mpiexec, "/bin/sh", nullptr, nullptr, const_cast<char**>(argv), environ));
    const auto [partial, writer] = wait_for_partial(out);
    ASSERT_FALSE(partial.empty()) << name << ": no chain checkpoint appeared\n" << read_text(log);
    const std::string shard_id = partial.filename().string().substr(0, 5);
    ASSERT_EQ(0, kill(writer, signal_number)) << name;
    int wait_status = 0;
    ASSERT_EQ(mpiexec, waitpid(mpiexec, &wait_status, 0));
    const std::string run_log = read_text(log);
    if (signal_number == SIGTERM) {
      // Every rank exits 4 (stopped, resumable), and the rank says what it kept.
      EXPECT_TRUE(WIFEXITED(wait_status) && WEXITSTATUS(wait_status) == 4) << wait_status << "\n" << run_log;
      EXPECT_NE(run_log.find("SIGTERM received: shard " + std::to_string(std::stoi(shard_id)) + " stopped at step"),
                std::string::npos)
          << run_log;
      EXPECT_NE(run_log.find("finished chains are kept in " + partial.string()), std::string::npos) << run_log;
      // The stopped shard is missing (not failed) and its finished chain is kept.
      const auto status = status_json(out);
      for (const auto& shard : status["shards"]) {
        if (shard["id"].get<int>() == std::stoi(shard_id)) {
          EXPECT_EQ(shard["state"], "missing") << shard.dump();
        }
      }
      EXPECT_EQ(count_state(status, "failed"), 0);
    } else {
      EXPECT_FALSE(WIFEXITED(wait_status) && WEXITSTATUS(wait_status) == 0) << "mpiexec must report the killed rank";
    }
    ASSERT_TRUE(fs::exists(partial)) << name << ": the finished chains were not kept";
    const auto kept = io::File::open_read_only(partial).root().attribute<std::int64_t>("chains_finished");
    EXPECT_GE(kept, 1);

    ASSERT_EQ(0, run(mpirun(2, "rerun " + out.string()), dir / (name + "_rerun.log")))
        << read_text(dir / (name + "_rerun.log"));
    const std::string rerun_log = read_text(dir / (name + "_rerun.log"));
    EXPECT_NE(rerun_log.find("reused " + std::to_string(kept) + " finished chains"), std::string::npos) << rerun_log;
    EXPECT_FALSE(fs::exists(partial)) << "the chain checkpoint outlived its shard";
    std::int64_t resumed_steps = 0;
    {  // closed before gather's external links open the file again
      const io::File shard = io::File::open_read_only(out / "shards" / (shard_id + ".h5"));
      resumed_steps = shard.root().attribute<std::int64_t>("resumed_steps");
      EXPECT_EQ(shard.root().attribute<std::int64_t>("resumed_chains"), kept);
    }
    // No burn-in, 15 draws 100 steps apart: each reused chain saved kStopSteps SGLD steps.
    EXPECT_EQ(resumed_steps, kStopSteps * kept);
    std::cout << name << ": shard " << shard_id << " resumed " << kept << " finished chain(s), " << resumed_steps
              << " SGLD steps not run again\n";
    expect_same_shards(reference, out);
    ASSERT_EQ(0, run(kExe + " gather " + out.string(), dir / ("gather_" + name + ".log")))
        << read_text(dir / ("gather_" + name + ".log"));
    expect_same_tables(reference / "results.h5", out / "results.h5", 4);
  }
}

// Issue 20 finding 3: a step size that explodes the chains (ε = 0.04: MALA
// acceptance 0, losses far above L_init) or makes them diverge (ε = 10) fails
// the LLC shard with a reason naming the unhealthy chains; gather keeps the row
// as failed without a λ̂ for the predicted bits; fit and figures run and leave
// it out. Before, both shards counted as done and their λ̂ was fitted.
TEST(Pipeline, UnhealthyChainsFailTheLlcShardAndFitLeavesItOut) {
  const fs::path dir = kWork / "unhealthy";
  fs::remove_all(dir);
  std::string text = stop_job(dir / "unused");
  const std::string stop_llc = "chains = 3\ndraws = 15\nsteps_between_draws = 100";
  text.replace(text.find(stop_llc), stop_llc.size(), "chains = 4\ndraws = 20");
  const fs::path job = write_job(dir, text);
  const bool have_python = std::system("/usr/bin/python3 -c 'import h5py, numpy, matplotlib' > /dev/null 2>&1") == 0;
  for (const std::string epsilon : {"0.04", "10"}) {
    const fs::path out = dir / ("eps" + epsilon);
    EXPECT_EQ(3, run(mpirun(1, "run " + job.string() + " --llc.epsilon=" + epsilon + " --job.output=" + out.string()),
                     dir / ("run" + epsilon + ".log")))
        << read_text(dir / ("run" + epsilon + ".log"));
    // The rule that fires: ε = 0.04 moves every chain with MALA acceptance 0;
    // ε = 10 makes every chain's loss NaN within a few steps.
    const std::string expected_problem = epsilon == "10" ? "diverged (minibatch loss is" : "MALA acceptance 0 < 0.1";
    const auto status = status_json(out);
    std::vector<int> failed_llc;
    for (const auto& shard : status["shards"]) {
      if (shard["task"] != "llc") {
        EXPECT_EQ(shard["state"], "done") << shard.dump();
        continue;
      }
      failed_llc.push_back(shard["id"].get<int>());
      EXPECT_EQ(shard["state"], "failed") << shard.dump();
      const std::string reason = shard["reason"];
      EXPECT_NE(reason.find("0 of 4 chains healthy (need 2)"), std::string::npos) << reason;
      for (int chain = 0; chain < 4; ++chain)
        EXPECT_NE(reason.find("chain " + std::to_string(chain) + ": "), std::string::npos) << reason;
      EXPECT_NE(reason.find(expected_problem), std::string::npos) << reason;
      // The traces that explain it are kept beside the error record, not as a done shard.
      const fs::path kept = out / "shards" / fmt_id(shard["id"].get<int>(), ".failed.h5");
      ASSERT_TRUE(fs::exists(kept)) << kept;
      EXPECT_FALSE(fs::exists(out / "shards" / fmt_id(shard["id"].get<int>(), ".h5")));
      const io::File file = io::File::open_read_only(kept);
      EXPECT_EQ(file.root().attribute<std::string>("status"), "failed");
      const io::Table chains = io::read_table(file.root().open_group("result"), "chains");
      EXPECT_EQ(chains.values<std::uint8_t>("healthy"), std::vector<std::uint8_t>(4, 0));
    }
    EXPECT_EQ(failed_llc.size(), 2u);

    EXPECT_EQ(3, run(kExe + " gather " + out.string(), dir / ("gather" + epsilon + ".log")))
        << read_text(dir / ("gather" + epsilon + ".log"));
    {
      const io::File results = io::File::open_read_only(out / "results.h5");
      const io::Table llc = io::read_table(results.root(), "tables/llc");
      EXPECT_EQ(llc.values<std::string>("status"), std::vector<std::string>(2, "failed"));
      EXPECT_EQ(llc.values<std::int64_t>("chains_used"), std::vector<std::int64_t>(2, 0));
      for (const auto& reason : llc.values<std::string>("failure_reason"))
        EXPECT_NE(reason.find(expected_problem), std::string::npos) << reason;
      const io::Table critical = io::read_table(results.root(), "tables/critical");
      ASSERT_GT(critical.num_rows(), 0);
      for (double bits : critical.values<double>("predicted_bits")) EXPECT_TRUE(std::isnan(bits)) << bits;
    }
    // fit runs, leaves both checkpoints out and says so; it draws the figures when python3 can.
    ASSERT_EQ(
        0, run(kExe + " fit " + out.string() + (have_python ? "" : " --no-figures"), dir / ("fit" + epsilon + ".log")))
        << read_text(dir / ("fit" + epsilon + ".log"));
    const std::string report = read_text(out / "report.md");
    EXPECT_NE(report.find("Left out of every fit"), std::string::npos) << report;
    EXPECT_NE(report.find("m step 0: LLC shard failed"), std::string::npos) << report;
    EXPECT_NE(report.find("m step 4: LLC shard failed"), std::string::npos) << report;
    if (have_python) {
      const std::string fit_log = read_text(dir / ("fit" + epsilon + ".log"));
      EXPECT_NE(fit_log.find("figures.py: left out m step 0: LLC shard failed"), std::string::npos) << fit_log;
      EXPECT_TRUE(fs::exists(out / "figures/curves_m_quant.png")) << fit_log;
      EXPECT_FALSE(fs::exists(out / "figures/llc_vs_critical_quant.png")) << fit_log;
    }
  }
}

TEST(Pipeline, CorruptCheckpointAndBadTokensFailOnlyTheirShards) {
  const fs::path dir = kWork / "faults";
  fs::remove_all(dir);
  fs::create_directories(dir);
  // A copy of one model whose step4 weights are truncated.
  fs::path source_model;
  for (const auto& entry : fs::directory_iterator(kSuite))
    if (entry.is_directory() && entry.path().filename().string().rfind("demo-", 0) == 0) source_model = entry.path();
  ASSERT_FALSE(source_model.empty());
  fs::copy(source_model, dir / "model", fs::copy_options::recursive);
  const fs::path weights = dir / "model/step4/model.safetensors";
  ASSERT_TRUE(fs::exists(weights));
  fs::resize_file(weights, fs::file_size(weights) / 2);
  // A training split whose tokens lie outside the vocabulary (512): 0xFFFF everywhere.
  for (const char* suffix : {".idx", ".bin"})
    fs::copy(kSuite / ("data/train" + std::string(suffix)), dir / ("bad" + std::string(suffix)));
  {
    const auto size = fs::file_size(dir / "bad.bin");
    std::ofstream(dir / "bad.bin", std::ios::binary | std::ios::trunc) << std::string(size, '\xff');
  }
  const std::string models = "model = good:" + (dir / "model/step0").string() + "," + (dir / "model/step4").string() +
                             "\nmodel = badtokens:" + (source_model / "step0").string() +
                             "\ndata = badtokens:" + (dir / "bad").string() +
                             "\nheldout = badtokens:" + (dir / "bad").string() + "\n";
  const fs::path out = dir / "out";
  const fs::path job = write_job(dir, tiny_job(out, models));
  EXPECT_EQ(3, run(mpirun(2, "run " + job.string()), dir / "run.log")) << read_text(dir / "run.log");
  const auto status = status_json(out);
  const auto plan = nlohmann::json::parse(read_text(out / "plan.json"));
  int failed = 0;
  for (const auto& shard : status["shards"]) {
    const std::string checkpoint = shard["checkpoint"], reason = shard["reason"], state = shard["state"];
    if (shard["model"] == "badtokens") {
      EXPECT_EQ(state, "failed") << shard.dump();
      EXPECT_NE(reason.find("outside the vocabulary"), std::string::npos) << reason;
      ++failed;
    } else if (checkpoint.find("step4") != std::string::npos) {
      EXPECT_EQ(state, "failed") << shard.dump();
      EXPECT_NE(reason.find("model.safetensors"), std::string::npos) << reason;
      ++failed;
    } else {
      EXPECT_EQ(state, "done") << shard.dump();
    }
  }
  EXPECT_EQ(failed, 10);
  EXPECT_EQ(count_state(status, "done"), 5);
  // The error records carry the reason and where it happened.
  const auto record = nlohmann::json::parse(read_text(out / "shards/00005.error.json"));
  EXPECT_TRUE(record.contains("host") && record.contains("rank") && record.contains("time_utc"));
  // Gather still merges what is done (and says that the run is incomplete).
  EXPECT_EQ(3, run(kExe + " gather " + out.string(), dir / "gather.log")) << read_text(dir / "gather.log");
  EXPECT_EQ(3, run(kExe + " gather " + out.string() + " --require-complete", dir / "gather2.log"));
}

struct BadJob {
  std::string name, replace, with, key;
  std::string also_replace = {}, also_with = {};  // a second edit, when the case needs one
};

TEST(Pipeline, BadJobFilesAreRejectedBeforeAnyCompute) {
  const fs::path dir = kWork / "badjobs";
  fs::remove_all(dir);
  const std::string good = tiny_job(dir / "out", suite_models());
  const std::vector<BadJob> cases = {
      {"unknown_key", "chains = 2", "chain = 2", "llc.chain"},
      {"unknown_method", "methods = quant,svd,noise,prune", "methods = quant,zip", "compress.methods"},
      {"negative_eps", "eps = 0.01,0.03,0.1", "eps = 0.01,-0.5", "compress.eps"},
      {"zero_chains", "chains = 2", "chains = 0", "llc.chains"},
      {"bad_range", "eval_sequences = 0:8", "eval_sequences = 0:100000", "data.eval_sequences"},
      {"reversed_range", "sgld_sequences = 0:64", "sgld_sequences = 64:0", "data.sgld_sequences"},
      {"missing_data", "/data/train\n", "/data/nothing\n", "data.prefix"},
      {"no_match", "step4", "step4000", "models.model"},
      {"bad_scope", "[compress.noise]", "[compress.prune]\nprune_scope = everywhere\n[compress.noise]",
       "compress.prune.prune_scope"},
      {"bad_sampler", "chains = 2", "chains = 2\nsampler = langevin", "llc.sampler"},
      {"bad_log_level", "threads = 1", "threads = 1\nlog_level = loud", "job.log_level"},
      {"bad_lattice", "[compress.noise]", "[compress.lattice]\nlattice = E9\n[compress.noise]",
       "compress.lattice.lattice", "methods = quant,svd,noise,prune", "methods = quant,lattice"},
  };
  for (const auto& bad : cases) {
    std::string text = good;
    const auto at = text.find(bad.replace);
    ASSERT_NE(at, std::string::npos) << bad.name;
    text.replace(at, bad.replace.size(), bad.with);
    if (!bad.also_replace.empty()) {
      const auto also = text.find(bad.also_replace);
      ASSERT_NE(also, std::string::npos) << bad.name;
      text.replace(also, bad.also_replace.size(), bad.also_with);
    }
    const fs::path job = write_job(dir / bad.name, text);
    const fs::path log = dir / bad.name / "plan.log";
    EXPECT_EQ(2, run(kExe + " plan " + job.string(), log)) << bad.name << ": " << read_text(log);
    EXPECT_NE(read_text(log).find(bad.key), std::string::npos) << bad.name << ": " << read_text(log);
    const fs::path run_log = dir / bad.name / "run.log";
    EXPECT_EQ(2, run(mpirun(2, "run " + job.string()), run_log)) << bad.name << ": " << read_text(run_log);
    EXPECT_NE(read_text(run_log).find(bad.key), std::string::npos) << bad.name << ": " << read_text(run_log);
    EXPECT_FALSE(fs::exists(dir / "out")) << bad.name << ": output written for a rejected job";
  }
}

}  // namespace
