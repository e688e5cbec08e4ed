// pgpulse/change_event.hpp: the one canonical change event, and its one JSON line format.
//
//   {"id":"<cursor>","op":"UPDATE","schema":"public","table":"messages","xid":7312,
//    "commit_time":"2026-11-24T07:04:37.073803Z","new":{"id":1,"body":"hi"},"old":{...}}
//
// `new` is null for DELETE and TRUNCATE, `old` is null for INSERT and TRUNCATE. Rows are
// JSON objects with the table's column order, exactly as PostgreSQL's row_to_json makes them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "pgpulse/cursor.hpp"

namespace pgpulse {

enum class Op : char { kInsert = 'I', kUpdate = 'U', kDelete = 'D', kTruncate = 'T' };

/// "INSERT", "UPDATE", "DELETE", "TRUNCATE".
[[nodiscard]] std::string_view to_string(Op op) noexcept;

struct ChangeEvent {
  /// Resume point: a stream started from this cursor delivers what came after this event.
  Cursor id = Cursor::now();
  std::string schema;
  std::string table;
  Op op = Op::kInsert;
  /// The row after the change, as JSON object text; empty for DELETE and TRUNCATE.
  std::optional<std::string> new_row;
  /// The row before the change; empty for INSERT and TRUNCATE.
  std::optional<std::string> old_row;
  /// ISO 8601 UTC. The commit time when the server has track_commit_timestamp = on,
  /// otherwise the start time of the writing transaction.
  std::string commit_time;
  /// The writing transaction (PostgreSQL xid8): equal for changes made together.
  std::uint64_t xid = 0;
};

/// Appends the event's JSON line (without the newline) to `out`.
void append_json(const ChangeEvent& event, std::string& out);
/// The event's JSON line, without the newline.
[[nodiscard]] std::string to_json(const ChangeEvent& event);

}  // namespace pgpulse
