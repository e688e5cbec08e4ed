// `pgpulse install`, `uninstall` and `status`.
#include <fmt/core.h>

#include "cli/commands.hpp"
#include "pgpulse/capture.hpp"

namespace pgpulse::cli {

int install(const std::string& db, const std::vector<std::string>& tables) {
  install_capture(db, tables);
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
  auto tables = captured_tables(db);
  if (tables.empty()) {
    fmt::print("no captured tables\n");
    return 0;
  }
  for (const auto& table : tables) fmt::print("capturing {}\n", table);
  return 0;
}

}  // namespace pgpulse::cli
