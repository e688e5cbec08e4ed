// The subcommands of the pgpulse command-line tool. Each returns the process exit code and
// throws pgpulse::Error for the user errors that main() prints as one line.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "pgpulse/capture.hpp"

namespace pgpulse::cli {

struct WatchOptions {
  std::string db;
  std::vector<std::string> tables;     // capture mode: these tables (empty: all captured)
  std::vector<std::string> channels;   // raw mode: LISTEN on these channels instead
  std::string from = "now";            // capture mode: cursor to start after
  std::uint64_t limit = 0;             // exit after this many lines (0: never)
  std::string state_file;              // capture mode: keep the cursor here and resume from it
  std::uint64_t poll_interval_ms = 0;  // capture mode: 0 = the default of the wake-up mode
};

int watch(const WatchOptions& options);
int install(const std::string& db, const std::vector<std::string>& tables,
            const CaptureSettings& settings);
int uninstall(const std::string& db, const std::vector<std::string>& tables);
int status(const std::string& db);

}  // namespace pgpulse::cli
