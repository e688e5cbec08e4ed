// Reads the trigger-filled change log (pgpulse.changes) batch by batch, by snapshot, and
// keeps the cursor. See sql/pgpulse--1.sql (read_changes) for why batches are snapshots.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <functional>
#include <string>
#include <vector>

#include "pg/async_connection.hpp"
#include "pgpulse/change_event.hpp"
#include "pgpulse/cursor.hpp"

namespace pgpulse::source {

class ChangeLogReader {
 public:
  /// Takes one event; returns false to refuse it and end the read (the cursor stays before it).
  using Sink = std::function<bool(const ChangeEvent&)>;

  ChangeLogReader(Cursor from, std::vector<std::string> tables);

  /// Checks that capture is installed and the tables are captured, and pins "now".
  /// Throws SqlError with a user-facing message.
  boost::asio::awaitable<void> prepare(pg::AsyncConnection& connection);
  /// Delivers every change committed since the cursor; returns how many.
  boost::asio::awaitable<std::size_t> read(pg::AsyncConnection& connection, const Sink& sink);

  const Cursor& cursor() const noexcept { return cursor_; }
  /// The wake-up mode capture was installed with ("notify" or "poll"); known after prepare().
  const std::string& wakeup_mode() const noexcept { return wakeup_mode_; }

 private:
  bool deliver_row(const PGresult* row, const Snapshot& done, const Snapshot& batch,
                   const Sink& sink);

  Cursor cursor_;
  std::vector<std::string> table_names_;
  std::string schemas_param_;  // text[] literals for read_changes, empty = all tables
  std::string tables_param_;
  std::string wakeup_mode_ = "notify";
  ChangeEvent event_;  // reused per row: its strings keep their capacity
};

}  // namespace pgpulse::source
