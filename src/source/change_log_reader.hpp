// Reads the trigger-filled change log in commit order, page by page, and keeps the cursor.
// See sql/pgpulse--1.sql (pgpulse.sequence) for how commit order is made.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <functional>
#include <string>
#include <vector>

#include "pg/async_connection.hpp"
#include "pgpulse/change_event.hpp"
#include "pgpulse/cursor.hpp"
#include "pgpulse/table_name.hpp"
#include "pgpulse/wakeup_mode.hpp"

namespace pgpulse::source {

class ChangeLogReader {
 public:
  /// Takes one event; returns false to refuse it and end the read (the cursor stays before it).
  using Sink = std::function<bool(const ChangeEvent&)>;

  /// `tables`: only these; empty: every captured table.
  ChangeLogReader(Cursor from, std::vector<TableName> tables);

  /// Checks that capture is installed and the tables are captured, and pins "now" and
  /// "beginning" to positions. Throws SqlError with a user-facing message.
  [[nodiscard]] boost::asio::awaitable<void> prepare(pg::AsyncConnection& connection);
  /// Delivers every change committed since the cursor; returns how many. Throws
  /// CursorExpired when changes after the cursor were already pruned.
  [[nodiscard]] boost::asio::awaitable<std::size_t> read(pg::AsyncConnection& connection,
                                                         const Sink& sink);

  [[nodiscard]] const Cursor& cursor() const noexcept { return cursor_; }
  /// The wake-up mode capture was installed with; known after prepare().
  [[nodiscard]] WakeupMode wakeup_mode() const noexcept { return wakeup_mode_; }

 private:
  struct Page {
    std::size_t rows = 0;
    bool refused = false;
    bool full = false;  ///< cut by the row limit
    bool more = false;  ///< sequenced transactions remain after the cursor
  };
  /// `sequence_first`: call pgpulse.sequence() before the page, in the same round trip.
  [[nodiscard]] boost::asio::awaitable<Page> read_page(pg::AsyncConnection& connection,
                                                       const Sink& sink, bool sequence_first);
  bool deliver_row(const PGresult* row, const Sink& sink);
  void check_not_pruned(std::int64_t pruned_below) const;

  Cursor cursor_;
  std::string schemas_param_;  // text[] literals for the table filter; empty = all tables
  std::string tables_param_;
  std::vector<TableName> tables_;
  WakeupMode wakeup_mode_ = WakeupMode::kNotify;
  bool commit_timestamps_ = false;
  ChangeEvent event_;  // reused per row: its strings keep their capacity
};

}  // namespace pgpulse::source
