// What a task sees when it runs one shard: the job, the shard, the loaded
// checkpoint as a LossModel pair (SGLD data and held-out data), and the HDF5
// group its results go to. Tasks never touch MPI or the file layout.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "formats/checkpoint.h"
#include "formats/megatron.h"
#include "io/hdf5.h"
#include "model/gpt_neox.h"
#include "model/neox_loss_model.h"
#include "pipeline/job_spec.h"
#include "pipeline/plan.h"

namespace llcpress {

// A checkpoint loaded once per rank and reused by consecutive shards on it.
struct LoadedCheckpoint {
  std::string path;
  std::string content_hash;
  std::unique_ptr<formats::Checkpoint> checkpoint;
  std::unique_ptr<GptNeox> model;  // holds w* (GptNeox::hold_reference): tasks restore it after perturbing
  double load_seconds = 0;
};

struct TaskContext {
  const JobSpec& job;
  const Shard& shard;
  LoadedCheckpoint& checkpoint;
  NeoxLossModel& sgld_model;     // batches from data.prefix (data.sgld_sequences)
  NeoxLossModel& heldout_model;  // batches from data.heldout_prefix (data.eval_sequences)
  io::Group& result;             // "/result" of the shard file
  // The seed of every random stream of this shard: a function of the job
  // seed and the shard id only, so neither the rank count nor a rerun changes it.
  std::uint64_t shard_seed;
  // ---- chain-level resume and stopping (issue 20)
  // Where a task may keep finished sub-results (LLC chains) so that a rerun
  // after a stop or a crash continues from them; removed once the shard is written.
  std::string partial_path = {};
  std::int64_t rank = 0;
  std::string host = {};
  std::function<bool()> stop_requested = {};  // polled by tasks at safe points
  // Set by the task when the result is written but not usable (e.g. too few
  // healthy chains): the runner keeps the file as <id>.failed.h5 and marks the
  // shard failed with this reason.
  std::string failure = {};
  // Filled by tasks that resumed: sub-results reused and the steps they saved.
  std::int64_t resumed_units = 0, resumed_steps = 0;
};

}  // namespace llcpress
