// Which tables are captured and what columns they have, so a subscription to an unknown table
// or column is refused at subscribe time. Filled at start and refreshed by the live stream.
//
// Threads: written by one thread (the live stream's loop), read by the sessions of every
// loop. The tables are an immutable snapshot behind an atomic pointer: a reader takes the
// pointer (no lock, no wait on a refresh) and keeps what it read alive as long as it needs.
#pragma once

#include <atomic>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>

#include "pgpulse/table_name.hpp"

namespace pgpulse::gateway {

class TableCatalog {
 public:
  using Columns = std::set<std::string>;
  using Tables = std::unordered_map<TableName, Columns, TableNameHash>;

  /// Replaces what the catalog knows.
  void set(Tables tables);
  /// The columns of a captured table, or nullptr when it is not captured.
  [[nodiscard]] std::shared_ptr<const Columns> columns(const TableName& table) const;

 private:
  std::atomic<std::shared_ptr<const Tables>> tables_{std::make_shared<const Tables>()};
};

}  // namespace pgpulse::gateway
