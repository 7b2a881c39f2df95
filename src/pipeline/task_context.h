// What a task sees when it runs one shard: the job, the shard, the loaded
// checkpoint as a LossModel pair (SGLD data and held-out data), and the HDF5
// group its results go to. Tasks never touch MPI or the file layout.
#pragma once

#include <cstdint>
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
};

}  // namespace llcpress
