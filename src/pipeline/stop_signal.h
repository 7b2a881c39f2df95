// SIGTERM / SIGINT as a request to stop, not a kill. SLURM sends SIGTERM at a
// job's time limit (ahead of it with `--signal`) and on preemption; a user
// presses Ctrl-C. The handler only records the signal; the runner and the LLC
// estimator poll stop_requested() at safe points (between SGLD steps, between
// shards), keep what is finished and exit non-zero. A second signal of either
// kind ends the process at once (the default action), so a stuck rank can
// still be killed from the keyboard.
#pragma once

namespace llcpress {

// Installs the handlers for SIGTERM and SIGINT (idempotent).
void install_stop_handlers();

// True once SIGTERM or SIGINT arrived after install_stop_handlers().
bool stop_requested();

// The signal that asked to stop ("SIGTERM", "SIGINT"; "" when none).
const char* stop_signal_name();

}  // namespace llcpress
