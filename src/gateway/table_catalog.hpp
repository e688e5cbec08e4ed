// Which tables are captured and what columns they have, so a subscription to an unknown table
// or column is refused at subscribe time. Loaded at start and refreshed in the background.
#pragma once

#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <unordered_map>

namespace pgpulse::gateway {

class TableCatalog {
 public:
  using Columns = std::set<std::string>;
  using Tables = std::unordered_map<std::string, Columns>;  // "schema.table" -> columns

  /// Reads the catalog now (blocking). Throws pgpulse::Error.
  void load(const std::string& conninfo);
  /// The columns of a captured table, or nullptr when it is not captured.
  std::shared_ptr<const Columns> columns(const std::string& table_key) const;

 private:
  mutable std::mutex mutex_;
  std::shared_ptr<const Tables> tables_ = std::make_shared<Tables>();
};

}  // namespace pgpulse::gateway
