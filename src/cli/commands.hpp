// The subcommands of the pgpulse command-line tool. Each returns the process exit code and
// throws pgpulse::Error for the user errors that main() prints as one line.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "gateway/config.hpp"
#include "pgpulse/capture.hpp"
#include "pgpulse/table_name.hpp"

namespace CLI {
class App;
}

namespace pgpulse::cli {

struct WatchOptions {
  std::string db;
  std::vector<TableName> tables;       // capture mode: these tables (empty: all captured)
  std::vector<std::string> channels;   // raw mode: LISTEN on these channels instead
  std::string from = "now";            // capture mode: cursor to start after
  std::uint64_t limit = 0;             // exit after this many lines (0: never)
  std::string state_file;              // capture mode: keep the cursor here and resume from it
  std::uint64_t poll_interval_ms = 0;  // capture mode: 0 = the default of the wake-up mode
};

struct ServeOptions {
  std::string db;
  std::string config_file;
  std::string public_key_file;
  int heartbeat_seconds = 15;
  int idle_timeout_seconds = 60;
  int leeway_seconds = 30;
  gateway::GatewayConfig config;
  /// The reloadable flags given on the command line (they win over the file on SIGHUP too).
  std::set<std::string> flags_given;
};

int watch(const WatchOptions& options);
int serve(ServeOptions& options);
/// Declares the serve flags on `serve` and reads the TOML file into the options a flag left unset.
void add_serve_options(CLI::App& serve, ServeOptions& options);
void apply_config_file(CLI::App& serve, ServeOptions& options);
int install(const std::string& db, const std::vector<std::string>& tables,
            const CaptureSettings& settings);
int uninstall(const std::string& db, const std::vector<std::string>& tables);
int status(const std::string& db);

}  // namespace pgpulse::cli
