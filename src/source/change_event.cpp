#include "pgpulse/change_event.hpp"

#include <charconv>

#include "util/json_text.hpp"

namespace pgpulse {

std::string_view to_string(Op op) noexcept {
  switch (op) {
    case Op::kInsert:
      return "INSERT";
    case Op::kUpdate:
      return "UPDATE";
    case Op::kDelete:
      return "DELETE";
    case Op::kTruncate:
      return "TRUNCATE";
  }
  return "UNKNOWN";
}

void append_json(const ChangeEvent& event, std::string& out) {
  out += "{\"id\":\"";
  event.id.append_to(out);  // cursor text needs no escaping
  out += "\",\"op\":\"";
  out += to_string(event.op);
  out += "\",\"schema\":";
  json_text::append_string(out, event.schema);
  out += ",\"table\":";
  json_text::append_string(out, event.table);
  out += ",\"xid\":";
  char number[24];
  auto [end, ec] = std::to_chars(number, number + sizeof number, event.xid);
  out.append(number, end);
  out += ",\"commit_time\":";
  json_text::append_string(out, event.commit_time);
  // Rows are JSON already (row_to_json on the server): spliced in, never re-parsed.
  out += ",\"new\":";
  out += event.new_row ? std::string_view(*event.new_row) : std::string_view("null");
  out += ",\"old\":";
  out += event.old_row ? std::string_view(*event.old_row) : std::string_view("null");
  out += '}';
}

std::string to_json(const ChangeEvent& event) {
  std::string out;
  append_json(event, out);
  return out;
}

}  // namespace pgpulse
