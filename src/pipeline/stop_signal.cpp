#include "pipeline/stop_signal.h"

#include <signal.h>

#include <csignal>

namespace llcpress {

namespace {

volatile std::sig_atomic_t received_signal = 0;

extern "C" void on_stop_signal(int signal_number) {
  received_signal = signal_number;
  // Only async-signal-safe calls here: the next SIGTERM/SIGINT takes the default action.
  struct sigaction fallback = {};
  fallback.sa_handler = SIG_DFL;
  sigemptyset(&fallback.sa_mask);
  sigaction(SIGTERM, &fallback, nullptr);
  sigaction(SIGINT, &fallback, nullptr);
}

}  // namespace

void install_stop_handlers() {
  struct sigaction action = {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;  // blocking I/O in progress resumes; the flag is polled afterwards
  sigaction(SIGTERM, &action, nullptr);
  sigaction(SIGINT, &action, nullptr);
}

bool stop_requested() { return received_signal != 0; }

const char* stop_signal_name() {
  switch (received_signal) {
    case 0:
      return "";
    case SIGTERM:
      return "SIGTERM";
    case SIGINT:
      return "SIGINT";
    default:
      return "a signal";
  }
}

}  // namespace llcpress
