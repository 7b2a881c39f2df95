// A sweep's results in HDF5 (through src/io). Layout under `group`
// (docs/compression.md lists every column with its units):
//   attributes   method, parameter, parameter_units, meaning, more_compression,
//                reference_loss, eps, llc_mean, parameters_total,
//                parameters_compressed, loss_evaluations, seconds_*,
//                method_config_json, search_json
//   points/      table: the whole loss-vs-amount curve (one row per point)
//   criticals/   table: one row per ε
//   clip_trials/ table (quant): every clip tried at every level count
//   draw_losses/ table (noise): every draw of every point
//   held_out_samples  int64 dataset: the held-out sequence numbers
#pragma once

#include "compress/sweep.h"
#include "io/hdf5.h"

namespace llcpress::compress {

void write_sweep(io::Group& group, const SweepResult& result);

}  // namespace llcpress::compress
