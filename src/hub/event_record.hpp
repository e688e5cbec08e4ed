// A change event as the hub shares it: serialized to JSON once, parsed once for filters, and
// handed to every session it goes to as a shared pointer to immutable data.
#pragma once

#include <boost/json/object.hpp>
#include <chrono>
#include <memory>
#include <string>

#include "pgpulse/change_event.hpp"
#include "pgpulse/table_name.hpp"

namespace pgpulse::hub {

struct EventRecord {
  Cursor id = Cursor::at(0);
  std::string id_text;  ///< id.to_string(), made once: SSE puts it in every event
  TableName table;      ///< the key subscriptions are indexed by
  Op op = Op::kInsert;
  /// The rows parsed, for filters and column lists; empty objects when absent.
  boost::json::object new_row;
  boost::json::object old_row;
  bool has_new = false;
  bool has_old = false;
  /// The one JSON serialization every session sends (pgpulse::append_json).
  std::string json;
  std::chrono::system_clock::time_point commit_time;

  /// The row filters look at: the new row, or the old one for a DELETE.
  const boost::json::object& filter_row() const { return has_new ? new_row : old_row; }
};

using SharedEvent = std::shared_ptr<const EventRecord>;

/// Builds the shared record of `event`.
SharedEvent make_record(const ChangeEvent& event);

/// True when `a` comes after `b` in the stream.
inline bool after(const Cursor& a, const Cursor& b) {
  return a.position() != b.position() ? a.position() > b.position() : a.seq() > b.seq();
}

}  // namespace pgpulse::hub
