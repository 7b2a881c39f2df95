// The option tables of the task kinds (pipeline/option_table.h):
//
//   common       RunSettings            where any task runs: `llc`, `calibrate`, `sweep`; job section [job]
//   llc          slt::LlcConfig         `llcpress llc`, `llcpress calibrate`, job section [llc]
//   compression  compress::SweepConfig  `llcpress sweep`, job sections [compress] and [compress.<method>]
//
// A key here is the one declaration of that setting: its CLI flag, job key,
// default (the target struct's member initialiser), unit, help text and the
// docs/job-spec.md rows all come from it.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "compress/sweep.h"
#include "pipeline/option_table.h"
#include "slt/llc_estimator.h"

namespace llcpress {

// Settings of where a task runs, shared by every task kind. A key that every command and job needs (the
// device and the GEMM precision on it) is added here once.
struct RunSettings {
  std::string device = "cpu";      // cpu | cuda
  std::string precision = "fp32";  // GEMM compute precision on cuda: fp32 | tf32 | bf16
  int threads = 0;                 // OpenMP threads; 0: OMP_NUM_THREADS or all cores
};

const OptionTable<RunSettings>& common_option_table();
const OptionTable<slt::LlcConfig>& llc_option_table();
const OptionTable<compress::SweepConfig>& compression_option_table();

// The tables as OptionTable::to_json (the compression keys shown in section "compress.<method>").
std::vector<nlohmann::json> option_tables_json();

}  // namespace llcpress
