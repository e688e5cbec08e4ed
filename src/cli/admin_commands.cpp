// `pgpulse install`, `uninstall` and `status`.
#include <fmt/core.h>
#include <fmt/format.h>

#include "cli/commands.hpp"
#include "pgpulse/capture.hpp"

namespace pgpulse::cli {

int install(const std::string& db, const std::vector<std::string>& tables,
            const CaptureSettings& settings) {
  install_capture(db, tables, settings);
  for (const auto& table : tables) fmt::print("capturing {}\n", table);
  return 0;
}

int uninstall(const std::string& db, const std::vector<std::string>& tables) {
  uninstall_capture(db, tables);
  fmt::print("{}\n", tables.empty() ? "removed pgpulse capture and schema"
                                    : "removed capture from the given tables");
  return 0;
}

int status(const std::string& db) {
  auto s = capture_status(db);
  if (!s.installed) {
    fmt::print("pgpulse is not installed in this database\n");
    return 0;
  }
  fmt::print("schema version:   {}\n", s.schema_version);
  std::string tables;
  for (const auto& table : s.tables) tables += (tables.empty() ? "" : ", ") + table.display();
  fmt::print("captured tables:  {}\n", tables.empty() ? "(none)" : tables);
  fmt::print("wake-up:          {}\n", to_string(s.wakeup));
  fmt::print("retention:        {}\n", s.retention);
  fmt::print("change log:       ~{} changes, {:.1f} MB\n", s.log_rows_estimate,
             static_cast<double>(s.log_bytes) / 1e6);
  fmt::print("oldest change:    {}\n",
             s.oldest_change.empty() ? "(log is empty)" : s.oldest_change);
  fmt::print("pruning:          {}, changes below xid {} pruned\n",
             s.last_prune.empty() ? "never ran" : "last ran " + s.last_prune, s.pruned_below);
  return 0;
}

}  // namespace pgpulse::cli
