// Which tables are captured and what columns they have, so a subscription to an unknown table
// or column is refused at subscribe time. Filled by the live stream's on_catalog, on its own
// connection, before the gateway serves and then every few seconds.
//
// Threads: written on loop 0 (the live stream's), read by the sessions of every loop. So not
// "one loop, no lock": the tables are an immutable snapshot behind an atomic pointer, and a
// reader takes the pointer (no lock, never waiting on a refresh) and keeps what it read alive
// as long as it needs it. A refresh builds a new snapshot; nothing is ever changed in place.
#pragma once

#include <atomic>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "pgpulse/change_stream.hpp"
#include "pgpulse/table_name.hpp"

namespace pgpulse::gateway {

class TableCatalog {
 public:
  using Columns = std::set<std::string>;
  using Tables = std::unordered_map<TableName, Columns, TableNameHash>;

  /// Replaces what the catalog knows (ChangeStream::on_catalog reports it).
  void set(const std::vector<CapturedTable>& captured);
  /// The columns of a captured table, or nullptr when it is not captured.
  [[nodiscard]] std::shared_ptr<const Columns> columns(const TableName& table) const;

 private:
  std::atomic<std::shared_ptr<const Tables>> tables_{std::make_shared<const Tables>()};
};

}  // namespace pgpulse::gateway
