// The option tables of the task kinds (pipeline/option_table.h):
//
//   llc          slt::LlcConfig         `llcpress llc`, `llcpress calibrate`, job section [llc]
//   compression  compress::SweepConfig  `llcpress sweep`, job sections [compress] and [compress.<method>]
//
// A key here is the one declaration of that setting: its CLI flag, job key,
// default (the target struct's member initialiser), unit, help text and the
// docs/job-spec.md rows all come from it.
#pragma once

#include <nlohmann/json.hpp>
#include <vector>

#include "compress/sweep.h"
#include "pipeline/option_table.h"
#include "slt/llc_estimator.h"

namespace llcpress {

const OptionTable<slt::LlcConfig>& llc_option_table();
const OptionTable<compress::SweepConfig>& compression_option_table();

// Both tables as OptionTable::to_json (the compression keys shown in section "compress.<method>").
std::vector<nlohmann::json> option_tables_json();

}  // namespace llcpress
